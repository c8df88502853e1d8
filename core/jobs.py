"""Training in the background: one job at a time across every server sharing the database, each in its own process,
surviving page reloads and server restarts.

A job is a row in the database (:mod:`core.store.jobs`, which also keeps the one-job rule) and a folder of files
(``train.log``, the run's checkpoints and ``history.json``) on the server that started it. :class:`JobRunner` starts
``python -m core.jobs JOB_ID`` in a new process session; that process trains (resuming from ``last.pt`` when the
folder holds one), registers the finished model in the registry and marks the job succeeded, failed or cancelled.

**Is a running job still alive?** Its row records the host and pid of its process, and a heartbeat that the process
writes every :data:`HEARTBEAT_S` seconds (with the database's clock).

- On the job's own host, its pid decides: a process killed outright is noticed at the next look and its job marked
  **interrupted** at once.
- Anywhere else (another server cannot see that machine's processes), and on its own host before the pid is
  recorded, the heartbeat decides: a job whose last heartbeat is older than :data:`STALE_AFTER_S` seconds is marked
  interrupted. Should its process still be alive (the database was out of its reach that long), its next heartbeat
  finds the row no longer its own and the process stops without recording anything.

Host names (``socket.gethostname()``) must therefore differ between the servers. Rows written before hosts were
recorded (an empty host) count as this host's. :meth:`JobRunner.resume` carries an interrupted, cancelled or failed
job on from its last finished epoch, on the server whose folder holds it. :meth:`JobRunner.cancel` signals a process
on this host, and asks one elsewhere to stop at its next heartbeat.

Only the job's own process imports torch.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.errors import CoreError, StoreError
from core.store.db import data_home
from core.store.files import private_folder
from core.store.jobs import ACTIVE, RESUMABLE, Job, JobStore, Progress

__all__ = ["ACTIVE", "HEARTBEAT_S", "RESUMABLE", "STALE_AFTER_S", "Job", "JobRunner", "Progress"]

#: How often a job's process writes its heartbeat (seconds).
HEARTBEAT_S = 20.0
#: A job on another host whose heartbeat is older than this is taken as dead (nine missed heartbeats).
STALE_AFTER_S = 180.0
_INTERRUPTED = (
    "The training process stopped without finishing (killed, or the machine restarted); resume it to carry on from "
    "the last finished epoch."
)
_CANCELLED = "Cancelled by an admin."


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our exited child (a zombie still answers kill 0)
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a recycled pid belongs to another program; a process still starting has an empty command line
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return not command or b"core.jobs" in command


class JobRunner:
    """Start, watch, cancel and resume training jobs.

    Parameters
    ----------
    url : str, optional
        Database URL (default :func:`core.store.db.database_url`).
    runs_dir : Path, optional
        Where job folders go (default ``<data home>/runs``).
    python : str
        The interpreter that runs jobs.
    host : str, optional
        This server's name in the jobs' rows (default ``socket.gethostname()``).
    heartbeat_s : float
        How often the jobs started here write their heartbeat.
    stale_after_s : float
        How old a heartbeat may be before its job (on another host) counts as dead.
    """

    def __init__(self, url: str | None = None, *, runs_dir: Path | None = None, python: str = sys.executable,
                 host: str | None = None, heartbeat_s: float = HEARTBEAT_S,
                 stale_after_s: float = STALE_AFTER_S) -> None:  # fmt: skip
        self.url = url
        self._store = JobStore(url)
        self.runs_dir = runs_dir or data_home() / "runs"
        self.python = python
        self.host = host or socket.gethostname()
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s

    def _spawn(self, job_id: int, out: Path) -> int:
        private_folder(out)  # checkpoints of models trained on patients' images: owner-only
        env = {**os.environ, "XRAY_JOB_HEARTBEAT_S": str(self.heartbeat_s)}
        if self.url:
            env["XRAY_DB_URL"] = self.url
        with (out / "train.log").open("a") as log:
            process = subprocess.Popen(
                [self.python, "-m", "core.jobs", str(job_id)], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=Path(__file__).resolve().parents[1],
            )  # fmt: skip
        return process.pid

    def _launch(self, job: Job) -> Job:
        """Start the process of a job just marked running; a job whose process cannot start is marked failed."""
        try:
            pid = self._spawn(job.id, job.out)
        except OSError as error:
            message = f"The training process could not be started ({error})."
            self._store.finish(job.id, "failed", message, only_if_running=True)
            raise StoreError(message) from error
        self._store.set_pid(job.id, pid)
        return self.get(job.id)

    def running(self) -> Job | None:
        """The running job, if any (after noticing a job whose process died)."""
        job = self._store.running()
        if job is None:
            return None
        job = self._noticed(job)
        return job if job.status == ACTIVE else None

    def start(self, config: Mapping[str, Any]) -> Job:
        """Start a training job with these :class:`~core.classify.train.TrainConfig` fields (``out`` is chosen
        here). Refused while another job runs, on this server or any other sharing the database."""
        self.running()  # a job whose process died must not block the new one
        return self._launch(self._store.create(config, runs_dir=self.runs_dir, host=self.host))

    def resume(self, job_id: int) -> Job:
        """Carry on an interrupted, cancelled or failed job from its last finished epoch (on this server, which must
        hold the job's folder)."""
        job = self.get(job_id)
        if job.status in RESUMABLE and not job.out.is_dir():
            raise StoreError(f"Job #{job_id}'s folder {job.out} is not on this server; resume it on the server that "
                             f"ran it{f' ({job.host})' if job.host else ''}.")  # fmt: skip
        self.running()
        return self._launch(self._store.reopen(job_id, host=self.host))

    def cancel(self, job_id: int, *, timeout_s: float = 30.0) -> Job:
        """Stop a running job; it is marked cancelled and can be resumed.

        On this host its process group gets SIGTERM (SIGKILL after ``timeout_s``); a job on another host is asked to
        stop at its next heartbeat, waited for up to ``timeout_s``, and returned as it then is.
        """
        job = self.get(job_id)
        if job.status != ACTIVE:
            raise StoreError(f"Job #{job_id} is {job.status}, not running.")
        deadline = time.monotonic() + timeout_s
        if self._local(job) and job.pid:
            try:
                os.killpg(job.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            while _alive(job.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(job.pid):
                os.killpg(job.pid, signal.SIGKILL)
            self._store.finish(job_id, "cancelled", _CANCELLED, owner=(job.host, job.pid))
            return self.get(job_id)
        self._store.request_stop(job_id)
        while (job := self.get(job_id)).status == ACTIVE and time.monotonic() < deadline:
            time.sleep(0.5)
        return job

    def get(self, job_id: int) -> Job:
        """One job, its status brought up to date."""
        return self._noticed(self._store.get(job_id))

    def jobs(self) -> list[Job]:
        """Every job, newest first."""
        return [self._noticed(job) for job in self._store.jobs()]

    def _local(self, job: Job) -> bool:
        return job.host in (self.host, "")

    def _alive(self, job: Job) -> bool:
        """Whether a running job's process lives: by pid on this host, by heartbeat elsewhere (module docstring)."""
        if self._local(job) and job.pid:
            return _alive(job.pid)
        age_s = (self._store.now() - job.heartbeat).total_seconds() if job.heartbeat else math.inf
        return age_s < self.stale_after_s

    def _noticed(self, job: Job) -> Job:
        if job.status == ACTIVE and not self._alive(job):
            # only that process's run of the job: a job resumed meanwhile keeps running
            self._store.finish(job.id, "interrupted", _INTERRUPTED, owner=(job.host, job.pid))
            return self._store.get(job.id)
        return job


def _heartbeat(store: JobStore, job_id: int, owner: tuple[str, int], every_s: float, done: threading.Event,
               lost: threading.Event) -> None:  # fmt: skip
    """The job process's heartbeat thread: beat until ``done``; on a stop request, or when the row is no longer
    this process's (``lost``), interrupt the training with SIGTERM, as a cancel on this host would."""
    host, pid = owner
    while not done.wait(every_s):
        try:
            state = store.beat(job_id, host=host, pid=pid)
        except StoreError as error:  # the database is out of reach for now: try again at the next beat
            print(f"warning: {error}", flush=True)
            continue
        if state != "go":
            if state == "lost":
                lost.set()
            os.kill(pid, signal.SIGTERM)
            return


def _run_job(job_id: int) -> int:
    """The job's own process: train, register, report (``python -m core.jobs JOB_ID``)."""
    # torch first: a cancel that arrives while it imports ends the process outright (SIGTERM's default), where a
    # KeyboardInterrupt would leave half-imported modules; the canceller then records the cancel itself
    from core.classify.checkpoint import read_meta
    from core.classify.train import TrainConfig, train
    from core.store.registry import ModelRegistry

    store = JobStore(os.environ.get("XRAY_DB_URL"))
    job = store.claim(job_id, os.getpid())
    if job is None:
        job = store.get(job_id)
        print(f"Job #{job_id} is {job.status} (process {job.pid} on {job.host or 'this host'}), not waiting for "
              f"process {os.getpid()}; nothing to do.", flush=True)  # fmt: skip
        return 0
    owner = (job.host, os.getpid())

    def cancelled(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, cancelled)
    done, lost = threading.Event(), threading.Event()
    every_s = float(os.environ.get("XRAY_JOB_HEARTBEAT_S", HEARTBEAT_S))
    threading.Thread(target=_heartbeat, args=(store, job_id, owner, every_s, done, lost), daemon=True).start()

    def stopped() -> int:
        if lost.is_set():  # the row is another run's now: record nothing
            print("stopped: another server found this job's heartbeat too old and took it over", flush=True)
        else:
            store.finish(job_id, "cancelled", _CANCELLED, owner=owner)
            print("cancelled", flush=True)
        return 130

    try:
        config = TrainConfig(**{**job.config, "snapshot_epochs": tuple(job.config.get("snapshot_epochs", ()))})
        path = train(config, log=lambda line: print(line, flush=True))
        meta = read_meta(path)
        entry = ModelRegistry(os.environ.get("XRAY_DB_URL")).register(path, meta, name=f"job{job_id:04d} "
                                                                      f"{config.arch}")  # fmt: skip
        test = meta.test or {}
        message = f"Model {entry.version} registered" + (f"; test accuracy {test['accuracy']:.3f}" if test else "")
        store.finish(job_id, "succeeded", message, model_version=entry.version, owner=owner)
        print(message, flush=True)
        return 0
    except KeyboardInterrupt:
        return stopped()
    except CoreError as error:
        store.finish(job_id, "failed", str(error), owner=owner)
        print(f"error: {error}", flush=True)
        return 2
    except Exception as error:
        if _interrupted(error):  # cancelled while torch was writing a file (the old file is intact)
            return stopped()
        # a bug: record it for the page, keep the traceback in the log
        store.finish(job_id, "failed", f"Unexpected error ({type(error).__name__}: {error}); see the job's log.",
                     owner=owner)  # fmt: skip
        raise
    finally:
        done.set()


def _interrupted(error: BaseException) -> bool:
    """Whether a KeyboardInterrupt (the job's SIGTERM) lies behind ``error``: torch, for one, replaces an interrupt
    that arrives while it writes a checkpoint with a RuntimeError of its own."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


if __name__ == "__main__":
    sys.exit(_run_job(int(sys.argv[1])))
