"""Training in the background: one job at a time, in its own process, surviving page reloads and server restarts.

A job is a row in the database and a folder of files (``train.log``, the run's checkpoints and ``history.json``).
:class:`JobRunner` starts ``python -m core.jobs JOB_ID`` in a new process session; that process trains (resuming
from ``last.pt`` when the folder holds one), registers the finished model in the registry and marks the job
succeeded, failed or cancelled. A process killed outright leaves its job "running" with a dead pid; the next look at
it marks it **interrupted**, and :meth:`JobRunner.resume` carries on from the last finished epoch.

Only the job's own process imports torch.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from core.store.db import Base, StoreError, as_utc, data_home, session_factory

__all__ = ["Job", "JobRunner", "Progress"]

ACTIVE = "running"
_INTERRUPTED = (
    "The training process stopped without finishing (killed, or the machine restarted); resume it to carry on from "
    "the last finished epoch."
)
RESUMABLE = ("interrupted", "cancelled", "failed")


class _JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    config: Mapped[str] = mapped_column(Text)
    out: Mapped[str] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    model_version: Mapped[str | None] = mapped_column(String(12), nullable=True)


@dataclass(frozen=True)
class Progress:
    """How far a job is, from its ``history.json``.

    Attributes
    ----------
    epochs_done, epochs_total : int
    eta_s : float or None
        Seconds left at the median epoch time so far.
    history : list of dict
        One record per finished epoch (losses, accuracies, AUC, seconds).
    """

    epochs_done: int
    epochs_total: int
    eta_s: float | None
    history: list[dict[str, Any]]

    @property
    def fraction(self) -> float:
        return self.epochs_done / self.epochs_total if self.epochs_total else 0.0


@dataclass(frozen=True)
class Job:
    """A training job as last seen.

    Attributes
    ----------
    id : int
    status : str
        ``running``, ``succeeded``, ``failed``, ``cancelled`` or ``interrupted``.
    config : mapping
        The :class:`~core.classify.train.TrainConfig` fields.
    out : Path
        Its folder.
    pid : int or None
    created, finished : datetime
    message : str
        Why it failed, or what it produced.
    model_version : str or None
        The registered model, once succeeded.
    """

    id: int
    status: str
    config: Mapping[str, Any]
    out: Path
    pid: int | None
    created: dt.datetime
    finished: dt.datetime | None
    message: str
    model_version: str | None

    @property
    def log_path(self) -> Path:
        return self.out / "train.log"

    def progress(self) -> Progress:
        """Epochs done and left, from the run's history (empty before the first epoch ends)."""
        total = int(self.config.get("epochs", 0))
        try:
            history = json.loads((self.out / "history.json").read_text())
        except (OSError, ValueError):
            history = []
        seconds = sorted(float(h.get("seconds", 0.0)) for h in history)
        eta = seconds[len(seconds) // 2] * max(0, total - len(history)) if seconds else None
        return Progress(epochs_done=len(history), epochs_total=total, eta_s=eta, history=history)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the job's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _job(row: _JobRow) -> Job:
    return Job(id=row.id, status=row.status, config=json.loads(row.config), out=Path(row.out), pid=row.pid,
               created=as_utc(row.created), finished=row.finished and as_utc(row.finished), message=row.message or "",
               model_version=row.model_version)  # fmt: skip


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
    """

    def __init__(self, url: str | None = None, *, runs_dir: Path | None = None, python: str = sys.executable) -> None:
        self.url = url
        self._sessions = session_factory(url)
        self.runs_dir = runs_dir or data_home() / "runs"
        self.python = python

    @contextmanager
    def _exclusive(self):
        """One start or resume at a time across every process sharing the data folder."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        with (self.runs_dir / ".jobs.lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _spawn(self, row_id: int, out: Path) -> int:
        out.mkdir(parents=True, exist_ok=True)
        env = {**os.environ}
        if self.url:
            env["XRAY_DB_URL"] = self.url
        with (out / "train.log").open("a") as log:
            process = subprocess.Popen(
                [self.python, "-m", "core.jobs", str(row_id)], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, env=env, cwd=Path(__file__).resolve().parents[1],
            )  # fmt: skip
        return process.pid

    def running(self) -> Job | None:
        """The running job, if any (after noticing jobs whose process died)."""
        for job in self.jobs():
            if job.status == ACTIVE:
                return job
        return None

    def start(self, config: Mapping[str, Any]) -> Job:
        """Start a training job with these :class:`~core.classify.train.TrainConfig` fields (``out`` is chosen
        here). Refused while another job runs."""
        with self._exclusive():
            busy = self.running()
            if busy is not None:
                raise StoreError(f"Training job #{busy.id} is running (started {busy.created:%Y-%m-%d %H:%M} UTC); "
                                 "wait for it to finish or cancel it first.")  # fmt: skip
            with self._sessions.begin() as session:
                row = _JobRow(status=ACTIVE, config="{}", out="", created=dt.datetime.now(dt.UTC))
                session.add(row)
                session.flush()
                out = self.runs_dir / f"job{row.id:04d}"
                row.out, row.config = str(out), json.dumps({**config, "out": str(out)})
                row_id = row.id
            pid = self._spawn(row_id, out)
            with self._sessions.begin() as session:
                session.get(_JobRow, row_id).pid = pid
            return self.get(row_id)

    def resume(self, job_id: int) -> Job:
        """Carry on an interrupted, cancelled or failed job from its last finished epoch."""
        with self._exclusive():
            job = self.get(job_id)
            if job.status not in RESUMABLE:
                raise StoreError(f"Job #{job_id} is {job.status}; only {', '.join(RESUMABLE)} jobs can be resumed.")
            busy = self.running()
            if busy is not None:
                raise StoreError(f"Training job #{busy.id} is running; wait for it or cancel it first.")
            pid = self._spawn(job_id, job.out)
            with self._sessions.begin() as session:
                row = session.get(_JobRow, job_id)
                row.status, row.pid, row.finished, row.message = ACTIVE, pid, None, ""
            return self.get(job_id)

    def cancel(self, job_id: int, *, timeout_s: float = 30.0) -> Job:
        """Stop a running job (SIGTERM to its process group); it is marked cancelled and can be resumed."""
        job = self.get(job_id)
        if job.status != ACTIVE:
            raise StoreError(f"Job #{job_id} is {job.status}, not running.")
        try:
            os.killpg(job.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout_s
        while _alive(job.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(job.pid):
            os.killpg(job.pid, signal.SIGKILL)
        self._finish(job_id, "cancelled", "Cancelled by an admin.", only_if_running=True)
        return self.get(job_id)

    def get(self, job_id: int) -> Job:
        """One job, its status brought up to date."""
        with self._sessions() as session:
            row = session.get(_JobRow, job_id)
            if row is None:
                raise StoreError(f"No training job #{job_id}.")
            job = _job(row)
        return self._noticed(job)

    def jobs(self) -> list[Job]:
        """Every job, newest first."""
        with self._sessions() as session:
            jobs = [_job(r) for r in session.scalars(select(_JobRow).order_by(_JobRow.id.desc()))]
        return [self._noticed(job) for job in jobs]

    def _noticed(self, job: Job) -> Job:
        if job.status == ACTIVE and not _alive(job.pid):
            self._finish(job.id, "interrupted", _INTERRUPTED, only_if_running=True)
            with self._sessions() as session:
                return _job(session.get(_JobRow, job.id))
        return job

    def _finish(self, job_id: int, status: str, message: str, *, model_version: str | None = None,
                only_if_running: bool = False) -> None:  # fmt: skip
        with self._sessions.begin() as session:
            row = session.get(_JobRow, job_id)
            if only_if_running and row.status != ACTIVE:
                return
            row.status, row.message, row.finished = status, message, dt.datetime.now(dt.UTC)
            if model_version:
                row.model_version = model_version


def _run_job(job_id: int) -> int:
    """The job's own process: train, register, report (``python -m core.jobs JOB_ID``)."""
    from core.classify.checkpoint import load_checkpoint
    from core.classify.train import TrainConfig, train
    from core.errors import CoreError
    from core.store.registry import ModelRegistry

    runner = JobRunner(os.environ.get("XRAY_DB_URL"))
    job = runner.get(job_id)

    def cancelled(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, cancelled)
    try:
        config = TrainConfig(**{**job.config, "snapshot_epochs": tuple(job.config.get("snapshot_epochs", ()))})
        path = train(config, log=lambda line: print(line, flush=True))
        meta = load_checkpoint(path)["meta"]
        entry = ModelRegistry(os.environ.get("XRAY_DB_URL")).register(path, meta, name=f"job{job_id:04d} "
                                                                      f"{config.arch}")  # fmt: skip
        test = meta.get("test") or {}
        message = f"Model {entry.version} registered" + (f"; test accuracy {test['accuracy']:.3f}" if test else "")
        runner._finish(job_id, "succeeded", message, model_version=entry.version)
        print(message, flush=True)
        return 0
    except KeyboardInterrupt:
        runner._finish(job_id, "cancelled", "Cancelled by an admin.")
        print("cancelled", flush=True)
        return 130
    except CoreError as error:
        runner._finish(job_id, "failed", str(error))
        print(f"error: {error}", flush=True)
        return 2
    except Exception as error:
        if _interrupted(error):  # cancelled while torch was writing a file (the old file is intact)
            runner._finish(job_id, "cancelled", "Cancelled by an admin.")
            print("cancelled", flush=True)
            return 130
        # a bug: record it for the page, keep the traceback in the log
        runner._finish(job_id, "failed", f"Unexpected error ({type(error).__name__}: {error}); see the job's log.")
        raise


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
