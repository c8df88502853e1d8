"""Background training jobs on a small real subset: finish and register, refuse a second start, cancel, recover; two
servers (runners with their own folders and host names) sharing one database."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from core.jobs import JobRunner, _alive, _interrupted
from core.store.db import StoreError
from core.store.registry import ModelRegistry


def _config(shared_data, **changes) -> dict:
    return {"data": str(shared_data / "chest_xray"), "epochs": 2, "input_size": 64, "batch_size": 16,
            "per_class_limit": 32, "threads": 1, **changes}  # fmt: skip


def _wait(runner: JobRunner, job_id: int, *, until, timeout_s: float = 240.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        if until(job):
            return job
        time.sleep(0.5)
    pytest.fail(
        f"job #{job_id} still {runner.get(job_id).status} after {timeout_s} s:\n{runner.get(job_id).log_tail()}"
    )


@pytest.fixture
def runner(tmp_path):
    return JobRunner(f"sqlite:///{tmp_path / 'jobs.db'}", runs_dir=tmp_path / "runs")


def _server(db_url: str, tmp_path, name: str, **options) -> JobRunner:
    """One app server: its own folder for job runs and its own host name, on the shared database."""
    return JobRunner(db_url, runs_dir=tmp_path / name / "runs", host=name, **options)


@pytest.fixture
def idle_python(tmp_path):
    """An "interpreter" whose jobs only wait (a shell that sleeps; its command line names core.jobs): a job process
    that neither trains nor writes a heartbeat, for the rules that need no training."""
    script = tmp_path / "idle-python"
    script.write_text("#!/bin/sh\nsleep 120\n")
    script.chmod(0o755)
    return str(script)


def _stop(job) -> None:
    try:
        os.killpg(job.pid, signal.SIGKILL)
    except (ProcessLookupError, TypeError):
        pass


def test_a_job_trains_in_the_background_and_its_model_joins_the_registry(db_url, shared_data, tmp_path):
    runner = JobRunner(db_url, runs_dir=tmp_path / "runs")
    job = runner.start(_config(shared_data))
    assert job.status == "running" and job.pid
    with pytest.raises(StoreError, match="is running"):
        runner.start(_config(shared_data))  # one job at a time
    done = _wait(runner, job.id, until=lambda j: j.status != "running")
    assert done.status == "succeeded", done.log_tail()
    progress = done.progress()
    assert progress.epochs_done == progress.epochs_total == 2 and progress.fraction == 1.0
    assert {"train_accuracy", "val_accuracy", "val_loss"} <= set(progress.history[0])
    entry = ModelRegistry(runner.url).get(done.model_version)
    assert entry.path == (done.out / "model.pt").resolve() and "accuracy" in entry.meta.test
    assert "registered" in done.message and "loaded" in done.log_tail()


def test_cancel_then_resume(runner, shared_data):
    job = runner.start(_config(shared_data, epochs=30))
    _wait(runner, job.id, until=lambda j: j.progress().epochs_done >= 1)
    cancelled = runner.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished is not None
    done_before = cancelled.progress().epochs_done
    resumed = runner.resume(job.id)
    assert resumed.status == "running"
    _wait(runner, job.id, until=lambda j: j.progress().epochs_done > done_before)
    assert runner.cancel(job.id).status == "cancelled"


def test_a_killed_job_is_noticed_and_resumes_where_it_stopped(runner, shared_data):
    job = runner.start(_config(shared_data, epochs=4))
    _wait(runner, job.id, until=lambda j: j.progress().epochs_done >= 1)
    os.killpg(job.pid, signal.SIGKILL)  # no chance to clean up: as a power cut would
    interrupted = _wait(runner, job.id, until=lambda j: j.status != "running", timeout_s=30)
    assert interrupted.status == "interrupted" and "resume" in interrupted.message
    assert runner.running() is None  # the next job could start
    runner.resume(job.id)
    done = _wait(runner, job.id, until=lambda j: j.status != "running")
    assert done.status == "succeeded", done.log_tail()
    assert [h["epoch"] for h in done.progress().history] == [1, 2, 3, 4]  # no epoch lost or repeated
    with pytest.raises(StoreError, match="only interrupted"):
        runner.resume(job.id)


def test_a_bad_configuration_fails_with_its_reason(runner, shared_data, tmp_path):
    job = runner.start({"data": str(tmp_path / "nowhere"), "epochs": 1})
    failed = _wait(runner, job.id, until=lambda j: j.status != "running", timeout_s=120)
    assert failed.status == "failed" and "nowhere" in failed.message


def test_two_servers_on_one_database_never_run_two_jobs_even_when_starting_at_once(db_url, tmp_path, idle_python):
    servers = [_server(db_url, tmp_path, name, python=idle_python) for name in ("server-a", "server-b")]
    barrier = threading.Barrier(6)
    started, refused = [], []

    def start(server: JobRunner) -> None:
        barrier.wait()
        try:
            started.append(server.start({"epochs": 1}))
        except StoreError as error:
            refused.append(str(error))

    threads = [threading.Thread(target=start, args=(servers[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert len(started) == 1 and len(refused) == 5, refused
        assert all("is running" in message and "cancel it first" in message for message in refused)
        job = started[0]
        other = servers[1] if job.host == "server-a" else servers[0]
        assert [j.id for j in other.jobs()] == [job.id]  # one row: the refused starts left nothing behind
        assert other.running().id == job.id  # alive by its heartbeat, though the other server cannot see its pid
        with pytest.raises(StoreError, match=f"#{job.id} is running .* on {job.host}"):
            other.start({"epochs": 1})
    finally:
        for job in started:
            _stop(job)


def test_a_job_on_another_host_is_judged_by_its_heartbeat_not_by_a_pid(db_url, tmp_path, idle_python):
    a = _server(db_url, tmp_path, "server-a", python=idle_python)
    job = a.start({"epochs": 1})
    _stop(job)  # dead, but only server-a can see that pid
    b = _server(db_url, tmp_path, "server-b", python=idle_python)
    assert b.get(job.id).status == "running"  # its heartbeat (written when it started) is fresh
    assert not b.cancel(job.id, timeout_s=0.5).status == "cancelled"  # b can only ask; nobody beats to answer
    assert b.get(job.id).stop_requested
    stale = _server(db_url, tmp_path, "server-b", python=idle_python, stale_after_s=0.0)  # every heartbeat is old
    interrupted = stale.get(job.id)
    assert interrupted.status == "interrupted" and "resume" in interrupted.message
    job.out.rename(job.out.with_name("moved"))  # the folder lives on server-a only
    with pytest.raises(StoreError, match="not on this server; resume it on the server that ran it \\(server-a\\)"):
        b.resume(job.id)
    job.out.with_name("moved").rename(job.out)
    resumed = a.resume(job.id)  # on its own server it carries on, with a new process
    assert resumed.status == "running" and resumed.host == "server-a" and resumed.pid != job.pid
    assert not resumed.stop_requested
    assert a.cancel(resumed.id).status == "cancelled"
    assert b.start({"epochs": 1}).host == "server-b"  # then the other server may start one
    _stop(b.running())


def test_a_job_process_obeys_a_cancel_from_another_server_and_stops_when_taken_over(db_url, shared_data, tmp_path):
    a = _server(db_url, tmp_path, "server-a", heartbeat_s=0.3)
    b = _server(db_url, tmp_path, "server-b")
    job = a.start(_config(shared_data, epochs=30))
    _wait(a, job.id, until=lambda j: j.heartbeat and j.heartbeat > job.heartbeat, timeout_s=60)  # it beats
    cancelled = b.cancel(job.id)  # b cannot signal a's process: the process reads the request at its heartbeat
    assert cancelled.status == "cancelled" and cancelled.message == "Cancelled by an admin.", cancelled.log_tail()
    _wait(a, job.id, until=lambda j: not _alive(j.pid), timeout_s=30)
    resumed = a.resume(job.id)
    _wait(a, job.id, until=lambda j: j.heartbeat > resumed.heartbeat, timeout_s=60)  # its process has the row
    taken = _server(db_url, tmp_path, "server-b", stale_after_s=0.0).get(job.id)  # as if a's beats stopped coming
    assert taken.status == "interrupted"
    _wait(a, job.id, until=lambda j: not _alive(resumed.pid), timeout_s=30)  # its next beat finds the row lost
    after = a.get(job.id)
    assert after.status == "interrupted" and after.message == taken.message  # and it recorded nothing over it
    assert "took it over" in after.log_tail()


def test_a_cancel_that_torch_turns_into_its_own_error_still_counts_as_a_cancel():
    import io

    import torch

    class Interrupted(io.BytesIO):
        writes = 0

        def write(self, data):  # SIGTERM's KeyboardInterrupt arriving while a checkpoint is being written
            self.writes += 1
            if self.writes == 3:
                raise KeyboardInterrupt
            return super().write(data)

    try:
        torch.save({"weights": torch.zeros(100)}, Interrupted())
    except BaseException as error:  # whatever torch turns the interrupt into
        caught = error
    assert isinstance(caught, RuntimeError)  # torch 2.x replaces the interrupt with its own error...
    assert _interrupted(caught)  # ...which still counts as a cancel
    assert not _interrupted(RuntimeError("a real bug"))
