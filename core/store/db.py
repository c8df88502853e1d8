"""The project's database: one SQLAlchemy engine per URL, tables created on first use.

Where things are kept:

- ``XRAY_DB_URL``: any SQLAlchemy URL (``postgresql+psycopg://user@host/xray`` on a shared server);
- otherwise a SQLite file ``workstation.db`` in the data folder: ``XRAY_HOME``, else
  ``$XDG_DATA_HOME/xray-workstation``, else ``~/.local/share/xray-workstation``.

SQLite runs in write-ahead-log mode with a busy timeout, so the app's sessions, a background job and the command
line can write at once; every write is a transaction, so a crash leaves either the whole record or none. The data
folder is created owner-only (0700) and the SQLite file with its ``-wal`` and ``-shm`` files 0600.

Schema upgrades are additive and automatic: a table is created where missing, and a column or index that a newer
version of a table defines is added to a database made by an older one (new columns are nullable or have a default).
A change that is not additive (a column renamed, retyped or dropped) needs a migration written for it.

A database that refuses a request or cannot be reached is a :class:`StoreError` whose sentence names no SQL, table
or password (:func:`database_failure`); the details go to the server's log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, func, inspect, literal, make_url, select
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from core.errors import StoreError
from core.store.files import private_file, private_folder

__all__ = [
    "Base",
    "StoreError",
    "as_utc",
    "data_home",
    "database_failure",
    "database_now",
    "database_url",
    "reaching_database",
    "session_factory",
]

_log = logging.getLogger(__name__)
_UNOPENED = (
    "The database cannot be opened: it cannot be reached or refused the request. Try again; if it persists, tell "
    "the administrator (the server log has the details)."
)
_SCHEMA_LOCK = 0x5852_4159  # "XRAY": the advisory lock taken while tables are created or upgraded (PostgreSQL)
_schema_ready: dict[Engine, frozenset[str]] = {}  # the tables each engine's database is known to have
_schema_lock = threading.Lock()  # one thread of this process sets a schema up at a time (SQLite has no advisory lock)


class Base(DeclarativeBase):
    """Base class of every table."""


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A time in UTC: naive ones (SQLite hands timezone-aware columns back naive) are taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def database_now(session: Session) -> dt.datetime:
    """The database's clock (UTC): one clock for every server sharing the database, whatever their own say."""
    moment = session.scalar(select(func.now()))
    # SQLite answers CURRENT_TIMESTAMP as text ("YYYY-MM-DD HH:MM:SS", UTC)
    return as_utc(moment if isinstance(moment, dt.datetime) else dt.datetime.fromisoformat(str(moment)))


def data_home() -> Path:
    """The folder for the workstation's own files (database, runs, scenes), created on demand."""
    if os.environ.get("XRAY_HOME"):
        home = Path(os.environ["XRAY_HOME"])
    else:
        xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        home = Path(xdg) / "xray-workstation"
    return private_folder(home)


@contextlib.contextmanager
def reaching_database(doing: str) -> Iterator[None]:
    """Database failures while ``doing`` something (server down, file gone, connection dropped, pool exhausted, a
    constraint refused) become a :class:`StoreError` sentence (:func:`database_failure`; the cause is chained and
    logged). Use it around every session a store opens: ``with reaching_database("read the records"), ...``."""
    try:
        yield
    except SQLAlchemyError as error:
        raise database_failure(error, doing) from error


def database_failure(error: SQLAlchemyError, doing: str) -> StoreError:
    """The :class:`StoreError` to raise when the database fails while ``doing`` something (e.g. "record the
    prediction"): a sentence without SQL or credentials; the details are logged."""
    _log.warning("database failure while trying to %s: %s", doing, error)
    return StoreError(f"The database could not {doing}: it cannot be reached or refused the request. Try again; if "
                      "it persists, tell the administrator (the server log has the details).")  # fmt: skip


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
            shown = f"'{make_url(url).render_as_string(hide_password=True)}' "
        except (ArgumentError, ValueError):  # e.g. a port that is not a number
            shown = ""  # never echo what may hold a password
        raise StoreError(f"The database URL {shown}cannot be used ({error}). Check XRAY_DB_URL.") from error
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    """Sessions on the database at ``url`` (default :func:`database_url`).

    Every table defined so far is created if missing, so call it after importing the module that defines yours.
    """
    engine = _engine(url or database_url())
    tables = frozenset(Base.metadata.tables)
    if _schema_ready.get(engine) != tables:
        with _schema_lock:
            _set_up(engine, tables)
    return sessionmaker(engine, expire_on_commit=False)


def _set_up(engine: Engine, tables: frozenset[str]) -> None:
    """Create the missing tables and columns of ``engine``'s database (under :data:`_schema_lock`)."""
    if _schema_ready.get(engine) != tables:
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            try:
                private_file(engine.url.database)  # before SQLite creates it: its -wal and -shm files take its mode
                for journal in ("-wal", "-shm"):  # left by an older version, perhaps readable by all
                    if Path(engine.url.database + journal).is_file():
                        private_file(engine.url.database + journal)
            except OSError as error:
                _log.warning("database file %s cannot be opened: %s", engine.url.database, error)
                raise StoreError(_UNOPENED) from error
        try:
            with engine.begin() as connection:
                if engine.dialect.name == "postgresql":  # servers starting together set the schema up one at a time
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
                Base.metadata.create_all(connection)
                _add_missing_columns_and_indexes(connection)
        except SQLAlchemyError as error:
            _log.warning("database %s cannot be opened: %s", engine.url.render_as_string(hide_password=True), error)
            raise StoreError(_UNOPENED) from error
        _schema_ready[engine] = tables


def _add_missing_columns_and_indexes(connection: Connection) -> None:
    """Bring tables made by an older version up to the current definitions, additively (see the module's notes)."""
    inspector = inspect(connection)
    dialect = connection.dialect
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            sql_type = column.type.compile(dialect=dialect)
            default = ""
            if column.default is not None and column.default.is_scalar:  # existing rows take the Python default
                value = literal(column.default.arg, column.type).compile(
                    dialect=dialect, compile_kwargs={"literal_binds": True}
                )
                default = f" NOT NULL DEFAULT {value}" if not column.nullable else f" DEFAULT {value}"
            elif column.server_default is not None:
                default = f" DEFAULT {column.server_default.arg}"
            elif not column.nullable:
                raise StoreError(f"The database's table '{table.name}' lacks the required column '{column.name}'; "
                                 "it needs a migration (see core/store/db.py).")  # fmt: skip
            quote = dialect.identifier_preparer.quote
            connection.exec_driver_sql(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {sql_type}"
                                       f"{default}")  # fmt: skip
        indexes = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(connection, checkfirst=True)
