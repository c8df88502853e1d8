"""The project's database: one SQLAlchemy engine per URL, tables created on first use.

Where things are kept:

- ``XRAY_DB_URL``: any SQLAlchemy URL (``postgresql+psycopg://user@host/xray`` on a shared server);
- otherwise a SQLite file ``workstation.db`` in the data folder: ``XRAY_HOME``, else
  ``$XDG_DATA_HOME/xray-workstation``, else ``~/.local/share/xray-workstation``.

SQLite runs in write-ahead-log mode with a busy timeout, so the app's sessions, a background job and the command
line can write at once; every write is a transaction, so a crash leaves either the whole record or none.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.errors import CoreError

__all__ = ["Base", "StoreError", "as_utc", "data_home", "database_url", "session_factory"]


class StoreError(CoreError):
    """The database cannot be opened or written."""


class Base(DeclarativeBase):
    """Base class of every table."""


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A time in UTC: naive ones (SQLite hands timezone-aware columns back naive) are taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def data_home() -> Path:
    """The folder for the workstation's own files (database, runs, scenes), created on demand."""
    if os.environ.get("XRAY_HOME"):
        home = Path(os.environ["XRAY_HOME"])
    else:
        xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        home = Path(xdg) / "xray-workstation"
    home.mkdir(parents=True, exist_ok=True)
    return home


def database_url() -> str:
    """``XRAY_DB_URL``, or the SQLite file in :func:`data_home`."""
    return os.environ.get("XRAY_DB_URL") or f"sqlite:///{data_home() / 'workstation.db'}"


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@functools.cache
def _engine(url: str) -> Engine:
    try:
        engine = create_engine(url, pool_pre_ping=True)
    except (ArgumentError, ImportError, ValueError) as error:
        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except ArgumentError:
            shown = url.split("@")[-1]  # never echo a password
        raise StoreError(f"The database URL '{shown}' cannot be used ({error}).") from error
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """Sessions on the database at ``url`` (default :func:`database_url`).

    Every table defined so far is created if missing, so call it after importing the module that defines yours.
    """
    engine = _engine(url or database_url())
    try:
        Base.metadata.create_all(engine)
    except OperationalError as error:
        raise StoreError(f"The database at {engine.url!r} cannot be opened ({error.orig}).") from error
    return sessionmaker(engine, expire_on_commit=False)
