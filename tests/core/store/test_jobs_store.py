"""The jobs table on SQLite and PostgreSQL: one running job at most (under the lock, and by the unique index even
without it), resumable jobs only, ownership of a row by its process, and the upgrade of a table made before."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import create_engine, insert, inspect, text
from sqlalchemy.exc import IntegrityError

from core.store.db import StoreError
from core.store.jobs import JobStore, _JobRow


def _insert_running(url: str) -> None:
    """A second running row written straight into the table, past every check of :class:`JobStore`."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(insert(_JobRow).values(status="running", config="{}", out="", host="rogue",
                                                      created=dt.datetime.now(dt.UTC), message=""))  # fmt: skip
    finally:
        engine.dispose()


def test_a_job_gets_its_folder_and_a_second_start_is_refused_with_a_sentence(db_url, tmp_path):
    store = JobStore(db_url)
    job = store.create({"epochs": 3}, runs_dir=tmp_path / "runs", host="server-a")
    assert job.status == "running" and job.out == tmp_path / "runs" / f"job{job.id:04d}"
    assert job.config == {"epochs": 3, "out": str(job.out)} and job.pid is None and job.host == "server-a"
    assert job.heartbeat is not None and abs((store.now() - job.heartbeat).total_seconds()) < 60
    with pytest.raises(StoreError, match=rf"^Training job #{job.id} is running \(started .* on server-a\); wait"):
        JobStore(db_url).create({"epochs": 1}, runs_dir=tmp_path / "other", host="server-b")
    assert [j.id for j in store.jobs()] == [job.id] and store.running() == job


def test_the_database_itself_refuses_a_second_running_job(db_url, tmp_path):
    JobStore(db_url).create({}, runs_dir=tmp_path, host="server-a")
    with pytest.raises(IntegrityError):  # the partial unique index, not the code
        _insert_running(db_url)
    store = JobStore(db_url)
    store.finish(store.running().id, "failed", "Out of memory.")
    _insert_running(db_url)  # finished jobs do not count


def test_simultaneous_starts_from_two_servers_leave_exactly_one_job(db_url, tmp_path):
    stores = [JobStore(db_url), JobStore(db_url)]
    barrier = threading.Barrier(8)
    started, refused = [], []

    def start(i: int) -> None:
        barrier.wait()
        try:
            started.append(stores[i % 2].create({}, runs_dir=tmp_path / f"server{i % 2}", host=f"server{i % 2}"))
        except StoreError as error:
            refused.append(str(error))

    threads = [threading.Thread(target=start, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(started) == 1 and len(refused) == 7 and all("is running" in m for m in refused), refused
    assert [j.id for j in stores[0].jobs()] == [started[0].id]


def test_only_a_finished_job_can_be_reopened_and_only_while_none_runs(db_url, tmp_path):
    store = JobStore(db_url)
    first = store.create({}, runs_dir=tmp_path, host="server-a")
    with pytest.raises(StoreError, match="is running; only interrupted, cancelled, failed jobs can be resumed"):
        store.reopen(first.id, host="server-a")
    store.finish(first.id, "cancelled", "Cancelled by an admin.")
    second = store.create({}, runs_dir=tmp_path, host="server-b")
    with pytest.raises(StoreError, match=f"#{second.id} is running"):
        store.reopen(first.id, host="server-a")
    store.finish(second.id, "succeeded", "Model abc registered", model_version="abc")
    with pytest.raises(StoreError, match="is succeeded; only"):
        store.reopen(second.id, host="server-b")
    again = store.reopen(first.id, host="server-b")
    assert again.status == "running" and again.host == "server-b" and again.finished is None and not again.message
    with pytest.raises(StoreError, match="No training job #99"):
        store.reopen(99, host="server-a")


def test_a_row_belongs_to_the_process_that_claimed_it(db_url, tmp_path):
    store = JobStore(db_url)
    job = store.create({}, runs_dir=tmp_path, host="server-a")
    store.set_pid(job.id, 4242)
    assert store.claim(job.id, 4242).pid == 4242
    assert store.claim(job.id, 999) is None  # another process cannot take it
    assert store.beat(job.id, host="server-a", pid=4242) == "go"
    assert store.beat(job.id, host="server-a", pid=999) == "lost"
    store.request_stop(job.id)
    assert store.beat(job.id, host="server-a", pid=4242) == "stop"
    # another server declares it dead (stale heartbeat) and resumes it: the old process's ending changes nothing
    assert store.finish(job.id, "interrupted", "Stopped.", owner=("server-a", 4242))
    store.reopen(job.id, host="server-b")
    assert store.beat(job.id, host="server-a", pid=4242) == "lost"
    assert not store.finish(job.id, "succeeded", "Late.", owner=("server-a", 4242))
    assert store.get(job.id).status == "running" and not store.get(job.id).stop_requested
    assert store.finish(job.id, "cancelled", "Cancelled by an admin.", only_if_running=True)
    assert not store.finish(job.id, "interrupted", "Too late.", only_if_running=True)
    assert store.get(job.id).status == "cancelled"
    assert store.claim(job.id, 4242) is None  # a process that starts after its job was stopped has nothing to do


def test_a_jobs_table_from_before_gains_the_new_columns_and_the_one_running_rule(db_url, tmp_path):
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:  # the table as the previous version created it, with a running job
            connection.execute(text(
                "CREATE TABLE jobs (id INTEGER PRIMARY KEY, status VARCHAR(16) NOT NULL, config TEXT NOT NULL, "
                "out TEXT NOT NULL, pid INTEGER, created TIMESTAMP WITH TIME ZONE NOT NULL, "
                "finished TIMESTAMP WITH TIME ZONE, message TEXT NOT NULL, model_version VARCHAR(12))"
            ))  # fmt: skip
            connection.execute(text(
                "INSERT INTO jobs (id, status, config, out, pid, created, message) "
                "VALUES (1, 'running', '{\"epochs\": 2}', '/runs/job0001', 123, '2026-01-02 03:04:05+00:00', '')"
            ))  # fmt: skip
    finally:
        engine.dispose()
    store = JobStore(db_url)
    old = store.get(1)
    assert old.status == "running" and old.host == "" and old.heartbeat is None and not old.stop_requested
    assert old.config == {"epochs": 2} and old.created == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    engine = create_engine(db_url)
    try:
        assert "jobs_one_running" in {index["name"] for index in inspect(engine).get_indexes("jobs")}
    finally:
        engine.dispose()
    with pytest.raises(IntegrityError):
        _insert_running(db_url)
    JobStore(db_url)  # a second look changes nothing
    assert store.jobs() == [store.get(1)]
