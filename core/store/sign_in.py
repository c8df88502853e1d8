"""Failed admin sign-ins, counted in the database so that every app server sharing it slows guessing on the account
alike (:class:`core.auth.FailureDelay` with ``shared=SignInLedger()``).

One row per account: the failures on record and the time of the last one, both by the database's clock (the servers'
clocks may differ). Attempts on an account take turns across servers: on PostgreSQL through a session-level advisory
lock (released by the server if the client dies), on SQLite, whose processes share one machine, through a file lock
beside the database; either is held through one attempt's delay and check.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
from collections.abc import Iterator

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.store.db import Base, as_utc, database_now, reaching_database, session_factory
from core.store.files import private_file

__all__ = ["SignInLedger"]


class _FailureRow(Base):
    __tablename__ = "sign_in_failures"

    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def _lock_key(account: str) -> int:
    """A signed 64-bit advisory-lock key for the account."""
    return int.from_bytes(hashlib.sha256(f"xray sign-in {account}".encode()).digest()[:8], "big", signed=True)


class SignInLedger:
    """The failures on record per account, shared by the servers of one database.

    Parameters
    ----------
    url : str, optional
        Database URL (default :func:`core.store.db.database_url`).
    """

    def __init__(self, url: str | None = None) -> None:
        self._sessions = session_factory(url)

    def failures(self, account: str, *, forget_s: float) -> int:
        """Failures on record, less one for every ``forget_s`` seconds since the last one."""
        with reaching_database("read the sign-in failures"), self._sessions() as session:
            row = session.get(_FailureRow, account)
            if row is None:
                return 0
            return self._decayed(row, database_now(session), forget_s)

    def add_failure(self, account: str, *, forget_s: float, most: int) -> int:
        """Count one more failure (the decayed count plus one, at most ``most``); the new count."""
        with reaching_database("record the failed sign-in"), self._sessions.begin() as session:
            now = database_now(session)
            row = session.get(_FailureRow, account, with_for_update=True)
            if row is None:
                row = _FailureRow(account=account, failures=0, last_failure=now)
                session.add(row)
            row.failures = min(self._decayed(row, now, forget_s) + 1, most)
            row.last_failure = now
            return row.failures

    @contextlib.contextmanager
    def turn(self, account: str) -> Iterator[None]:
        """One attempt on ``account`` at a time, across every process and server using the database."""
        engine = self._sessions.kw["bind"]
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            lock = private_file(f"{engine.url.database}.sign-in.lock")
            with lock.open("rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed, or the process dies
                yield
            return
        if engine.dialect.name != "postgresql":
            yield
            return
        key = _lock_key(account)
        with reaching_database("take the sign-in turn"), engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
            connection.commit()
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
                connection.commit()

    @staticmethod
    def _decayed(row: _FailureRow, now: dt.datetime, forget_s: float) -> int:
        elapsed = (now - as_utc(row.last_failure)).total_seconds()
        return max(0, row.failures - int(max(elapsed, 0.0) // forget_s)) if forget_s > 0 else row.failures
