"""Background training jobs on a small real subset: finish and register, refuse a second start, cancel, recover."""

from __future__ import annotations

import os
import signal
import time

import pytest

from core.jobs import JobRunner, _interrupted
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


def test_a_job_trains_in_the_background_and_its_model_joins_the_registry(runner, shared_data, tmp_path):
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
    assert entry.path == (done.out / "model.pt").resolve() and "accuracy" in entry.meta["test"]
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
