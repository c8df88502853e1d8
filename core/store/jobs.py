"""Training jobs as the database keeps them: one row per job, and the rule that at most one job runs at a time.

The rule holds across every server sharing the database, in two layers:

- **A lock around "is a job running? → mark this one running"** (:meth:`JobStore.create`, :meth:`JobStore.reopen`):
  on PostgreSQL a transaction-level advisory lock (``pg_advisory_xact_lock``, released by the transaction's end,
  whatever happens to the process), on SQLite ``BEGIN IMMEDIATE`` (the database's single write lock, taken before
  the check rather than at the first write), so that the second of two simultaneous starts sees the first one's row
  and is refused with a sentence.
- **A partial unique index** on ``status`` where it is ``running``: the database itself refuses a second running row,
  whatever code writes it (on any database that has partial indexes: SQLite and PostgreSQL do).

A row records where its job runs (``host``, ``pid``) and when its process last said it was alive (``heartbeat``,
written with the database's clock, so the servers' clocks need not agree). Deciding from these whether a job is still
alive is :mod:`core.jobs`'s business; this module only stores and updates them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, func, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import StoreError
from core.store.db import Base, as_utc, database_failure, database_now, reaching_database, session_factory

__all__ = ["ACTIVE", "RESUMABLE", "Job", "JobStore", "Progress"]

ACTIVE = "running"
RESUMABLE = ("interrupted", "cancelled", "failed")

# The advisory lock's key on PostgreSQL: any constant that no other code of the database's users takes ("xrayjobs").
_LOCK_KEY = int.from_bytes(b"xrayjobs", "big")


class _JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        # at most one running job, enforced by the database itself (the belt to the lock's braces)
        Index(
            "jobs_one_running",
            "status",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    config: Mapped[str] = mapped_column(Text)
    out: Mapped[str] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    model_version: Mapped[str | None] = mapped_column(String(12), nullable=True)
    # added with the one-job rule across servers (core.store.db adds them to an older database's table)
    host: Mapped[str] = mapped_column(String(255), default="")
    heartbeat: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)


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
        Its folder (on the server that started it).
    pid : int or None
        Its process, on ``host``; ``None`` until the process has started.
    created, finished : datetime
    message : str
        Why it failed, or what it produced.
    model_version : str or None
        The registered model, once succeeded.
    host : str
        The machine its process runs on (the server that started or resumed it).
    heartbeat : datetime or None
        When its process last said it was alive (the database's clock, UTC).
    stop_requested : bool
        A server that cannot signal the process (another machine) asked it to stop.
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
    host: str = ""
    heartbeat: dt.datetime | None = None
    stop_requested: bool = False

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
               model_version=row.model_version, host=row.host or "",
               heartbeat=row.heartbeat and as_utc(row.heartbeat), stop_requested=bool(row.stop_requested))  # fmt: skip


def _busy(job: Job) -> StoreError:
    where = f" on {job.host}" if job.host else ""
    return StoreError(f"Training job #{job.id} is running (started {job.created:%Y-%m-%d %H:%M} UTC{where}); "
                      "wait for it to finish or cancel it first.")  # fmt: skip


class JobStore:
    """The ``jobs`` table: create, read and update job rows, one running job at most.

    Parameters
    ----------
    url : str, optional
        Database URL (default :func:`core.store.db.database_url`).
    """

    def __init__(self, url: str | None = None) -> None:
        self._sessions = session_factory(url)

    @contextmanager
    def _exclusive(self) -> Iterator[Session]:
        """A transaction that only one process at a time holds, across every server sharing the database."""
        with self._sessions() as session:
            dialect = session.get_bind().dialect.name
            if dialect == "sqlite":  # take the write lock now: a deferred transaction would check on a stale snapshot
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            elif dialect == "postgresql":  # held until commit or rollback; released by the server if the client dies
                session.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))
            # any other database: the partial unique index alone refuses the second running row
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def create(self, config: Mapping[str, Any], *, runs_dir: Path, host: str) -> Job:
        """A new running job whose folder is ``runs_dir/jobNNNN`` (``config["out"]`` set to it); refused while
        another job is running.

        Parameters
        ----------
        config : mapping
            The :class:`~core.classify.train.TrainConfig` fields (``out`` is chosen here).
        runs_dir : Path
            Where this server keeps job folders.
        host : str
            The machine that will run its process.
        """
        try:
            with self._exclusive() as session:
                busy = session.scalar(select(_JobRow).where(_JobRow.status == ACTIVE))
                if busy is not None:
                    raise _busy(_job(busy))
                row = _JobRow(status=ACTIVE, config="{}", out="", created=dt.datetime.now(dt.UTC), host=host,
                              heartbeat=func.now(), stop_requested=False, message="")  # fmt: skip
                session.add(row)
                session.flush()
                out = Path(runs_dir) / f"job{row.id:04d}"
                row.out, row.config = str(out), json.dumps({**config, "out": str(out)})
                session.flush()
                job_id = row.id
        except IntegrityError as error:  # the unique index caught a second running row: someone got there first
            raise self._refusal() from error
        except SQLAlchemyError as error:
            raise database_failure(error, "start the training job") from error
        return self.get(job_id)

    def reopen(self, job_id: int, *, host: str) -> Job:
        """Mark an interrupted, cancelled or failed job running again, to be resumed on ``host``; refused while
        another job is running."""
        try:
            with self._exclusive() as session:
                row = session.get(_JobRow, job_id)
                if row is None:
                    raise StoreError(f"No training job #{job_id}.")
                if row.status not in RESUMABLE:
                    raise StoreError(f"Job #{job_id} is {row.status}; only {', '.join(RESUMABLE)} jobs can be resumed.")
                busy = session.scalar(select(_JobRow).where(_JobRow.status == ACTIVE))
                if busy is not None:
                    raise _busy(_job(busy))
                row.status, row.pid, row.host, row.finished, row.message = ACTIVE, None, host, None, ""
                row.heartbeat, row.stop_requested = func.now(), False
        except IntegrityError as error:
            raise self._refusal() from error
        except SQLAlchemyError as error:
            raise database_failure(error, "resume the training job") from error
        return self.get(job_id)

    def _refusal(self) -> StoreError:
        busy = self.running()
        return _busy(busy) if busy else StoreError("Another training job was started at the same moment; try again.")

    def get(self, job_id: int) -> Job:
        """One job as stored."""
        with reaching_database("read the training jobs"), self._sessions() as session:
            row = session.get(_JobRow, job_id)
            if row is None:
                raise StoreError(f"No training job #{job_id}.")
            return _job(row)

    def jobs(self) -> list[Job]:
        """Every job as stored, newest first."""
        with reaching_database("read the training jobs"), self._sessions() as session:
            return [_job(r) for r in session.scalars(select(_JobRow).order_by(_JobRow.id.desc()))]

    def running(self) -> Job | None:
        """The job marked running, if any (alive or not: see :mod:`core.jobs`)."""
        with reaching_database("read the training jobs"), self._sessions() as session:
            row = session.scalar(select(_JobRow).where(_JobRow.status == ACTIVE))
            return None if row is None else _job(row)

    def now(self) -> dt.datetime:
        """The database's clock (UTC): what heartbeats are written with and compared against."""
        with reaching_database("read the database's clock"), self._sessions() as session:
            return database_now(session)

    def set_pid(self, job_id: int, pid: int) -> None:
        """Record the process of a running job that has none yet."""
        with reaching_database("record the training job's process"), self._sessions.begin() as session:
            session.execute(update(_JobRow).where(_JobRow.id == job_id, _JobRow.status == ACTIVE,
                                                  _JobRow.pid.is_(None)).values(pid=pid))  # fmt: skip

    def claim(self, job_id: int, pid: int) -> Job | None:
        """The job's own process, starting: record its pid and a first heartbeat; ``None`` when the job is no
        longer running (stopped before its process began) or another process has it."""
        with reaching_database("record the training job's process"), self._sessions.begin() as session:
            done = session.execute(
                update(_JobRow)
                .where(_JobRow.id == job_id, _JobRow.status == ACTIVE, (_JobRow.pid.is_(None)) | (_JobRow.pid == pid))
                .values(pid=pid, heartbeat=func.now())
            )
        return self.get(job_id) if done.rowcount == 1 else None

    def beat(self, job_id: int, *, host: str, pid: int) -> Literal["go", "stop", "lost"]:
        """The job's own process says it is alive.

        Returns
        -------
        str
            ``go``; ``stop`` when a server asked it to stop (:meth:`request_stop`); ``lost`` when the row is no longer
            its own (another server found its heartbeat too old and marked it interrupted, perhaps resumed it).
        """
        try:
            with self._sessions.begin() as session:
                mine = (_JobRow.id == job_id, _JobRow.status == ACTIVE, _JobRow.host == host, _JobRow.pid == pid)
                if session.execute(update(_JobRow).where(*mine).values(heartbeat=func.now())).rowcount != 1:
                    return "lost"
                return "stop" if session.scalar(select(_JobRow.stop_requested).where(*mine)) else "go"
        except SQLAlchemyError as error:
            raise database_failure(error, f"record the heartbeat of training job #{job_id}") from error

    def request_stop(self, job_id: int) -> None:
        """Ask a running job's process to stop at its next heartbeat (for a server that cannot signal it)."""
        with reaching_database("ask the training job to stop"), self._sessions.begin() as session:
            session.execute(update(_JobRow).where(_JobRow.id == job_id, _JobRow.status == ACTIVE)
                            .values(stop_requested=True))  # fmt: skip

    def finish(self, job_id: int, status: str, message: str, *, model_version: str | None = None,
               only_if_running: bool = False, owner: tuple[str, int] | None = None) -> bool:  # fmt: skip
        """Record how a job ended; whether the row was changed.

        Parameters
        ----------
        job_id : int
        status : str
            ``succeeded``, ``failed``, ``cancelled`` or ``interrupted``.
        message : str
        model_version : str, optional
        only_if_running : bool
            Leave a job that is no longer running as it is (a job that finished meanwhile keeps its own ending).
        owner : (str, int), optional
            ``(host, pid)``: only while the job is running in that process (the job's own process, whose row
            another server may have taken over).
        """
        conditions = [_JobRow.id == job_id]
        if only_if_running or owner:
            conditions.append(_JobRow.status == ACTIVE)
        if owner:
            conditions += [_JobRow.host == owner[0], _JobRow.pid == owner[1]]
        values: dict[str, Any] = {"status": status, "message": message, "finished": dt.datetime.now(dt.UTC)}
        if model_version:
            values["model_version"] = model_version
        with reaching_database("record how the training job ended"), self._sessions.begin() as session:
            return session.execute(update(_JobRow).where(*conditions).values(**values)).rowcount == 1
