"""The model registry: every classifier the workstation knows, its figures, and which one the Diagnose page uses.

A model is identified by its **version**, the first 12 hex digits of its checkpoint file's SHA-256, so that two
copies of the same weights are one model and a retrained file is another. The shipped default model is always
available; it is the active one until an admin activates another. The registry stores what it needs to compare
models side by side (recipe, validation and test figures) so that listing them never loads a network.

The checkpoint's bytes are kept in the database too, so that every app server sharing it can use any registered
model: :meth:`ModelRegistry.local_path` gives the file on the server that registered it, and elsewhere a copy written
once into ``<data home>/models/<version>.pt`` (checked against its version).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Boolean, DateTime, ForeignKey, LargeBinary, String, Text, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from core.classify.meta import ModelMeta
from core.store.db import Base, StoreError, as_utc, data_home, database_failure, reaching_database, session_factory
from core.store.files import file_version, write_atomic

__all__ = ["ModelRegistry", "RegisteredModel"]


class _ModelRow(Base):
    __tablename__ = "models"

    version: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    path: Mapped[str] = mapped_column(Text)
    arch: Mapped[str] = mapped_column(String(40))
    added: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    meta: Mapped[str] = mapped_column(Text)  # JSON: recipe, epoch, validation, test, created...
    active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class _ModelFileRow(Base):
    __tablename__ = "model_files"

    version: Mapped[str] = mapped_column(ForeignKey("models.version", ondelete="CASCADE"), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


@dataclass(frozen=True)
class RegisteredModel:
    """One registry entry.

    Attributes
    ----------
    version : str
    name : str
    path : Path
        The checkpoint file on the server that registered it (elsewhere: :meth:`ModelRegistry.local_path`).
    arch : str
    added : datetime
        When it joined the registry (UTC).
    meta : ModelMeta
        The checkpoint's metadata without its training history (``history`` is ``None``).
    active : bool
    """

    version: str
    name: str
    path: Path
    arch: str
    added: dt.datetime
    meta: ModelMeta
    active: bool


def _entry(row: _ModelRow) -> RegisteredModel:
    return RegisteredModel(version=row.version, name=row.name, path=Path(row.path), arch=row.arch,
                           added=as_utc(row.added),
                           meta=ModelMeta.from_dict(json.loads(row.meta), source=row.name),
                           active=row.active)  # fmt: skip


class ModelRegistry:
    """Register, list, activate and delete models.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL; :func:`core.store.db.database_url` when omitted.
    """

    def __init__(self, url: str | None = None) -> None:
        self._sessions = session_factory(url)

    def register(self, path: str | Path, meta: ModelMeta, *, name: str | None = None) -> RegisteredModel:
        """Add a checkpoint (its metadata read by the caller, e.g. with ``read_meta``); idempotent.

        Parameters
        ----------
        path : str or Path
            The checkpoint file; it must exist.
        meta : ModelMeta
            Its metadata; the training history is left out of the registry.
        name : str, optional
            Shown in lists; the file's stem by default.
        """
        path = Path(path).resolve()
        if not path.is_file():
            raise StoreError(f"No model file at '{path}' to register.")
        version = file_version(path)
        kept = meta.with_(history=None).to_dict()
        row = _ModelRow(version=version, name=(name or path.stem)[:120], path=str(path), arch=meta.arch,
                        added=dt.datetime.now(dt.UTC), meta=json.dumps(kept, default=str), active=False)  # fmt: skip
        data = path.read_bytes()
        try:
            with self._sessions.begin() as session:
                existing = session.get(_ModelRow, version)
                if existing is not None:
                    if session.get(_ModelFileRow, version) is None:  # registered before the bytes were kept
                        session.add(_ModelFileRow(version=version, data=data))
                    return _entry(existing)
                session.add(row)
                session.flush()
                session.add(_ModelFileRow(version=version, data=data))
                return _entry(row)
        except IntegrityError:  # registered concurrently by another process
            return self.get(version)
        except SQLAlchemyError as error:
            raise database_failure(error, f"register the model '{path.name}'") from error

    def get(self, version: str) -> RegisteredModel:
        """The model of that version."""
        with reaching_database("read the model registry"), self._sessions() as session:
            row = session.get(_ModelRow, version)
            if row is None:
                raise StoreError(f"No model of version '{version}' in the registry.")
            return _entry(row)

    def models(self) -> list[RegisteredModel]:
        """Every registered model, newest first."""
        with reaching_database("read the model registry"), self._sessions() as session:
            return [_entry(r) for r in session.scalars(select(_ModelRow).order_by(_ModelRow.added.desc()))]

    def active(self) -> RegisteredModel | None:
        """The model the Diagnose page uses, or ``None`` (then: the shipped default)."""
        with reaching_database("read which model is active"), self._sessions() as session:
            row = session.scalar(select(_ModelRow).where(_ModelRow.active))
            return None if row is None else _entry(row)

    def activate(self, version: str) -> RegisteredModel:
        """Make ``version`` the active model (and no other); its file must still exist."""
        with reaching_database("activate the model"), self._sessions.begin() as session:
            row = session.get(_ModelRow, version)
            if row is None:
                raise StoreError(f"No model of version '{version}' in the registry.")
            if not Path(row.path).is_file() and session.get(_ModelFileRow, version) is None:
                raise StoreError(f"The file of model '{row.name}' is gone ({row.path}) and the database holds no "
                                 "copy; it cannot be activated.")  # fmt: skip
            session.execute(update(_ModelRow).where(_ModelRow.version != version).values(active=False))
            row.active = True
            return _entry(row)

    def local_path(self, model: RegisteredModel | str) -> Path:
        """A file of the model (an entry, or its version) on this server: the registered file where it is here, else
        a copy of the bytes kept in the database, written once into ``<data home>/models/`` (and checked against the
        version).

        Raises
        ------
        StoreError
            For an unknown version, or a model whose file is elsewhere and whose bytes the database does not hold.
        """
        entry = model if isinstance(model, RegisteredModel) else self.get(model)
        version = entry.version
        if entry.path.is_file():
            return entry.path
        copy = data_home() / "models" / f"{version}.pt"
        if copy.is_file():
            return copy
        with reaching_database("read the model's file"), self._sessions() as session:
            data = session.scalar(select(_ModelFileRow.data).where(_ModelFileRow.version == version))
        if data is None:
            raise StoreError(f"The file of model '{entry.name}' is on another server ({entry.path}) and the database "
                             "holds no copy: register it again on the server that trained it.")  # fmt: skip
        if hashlib.sha256(data).hexdigest()[:12] != version:
            raise StoreError(f"The database's copy of model '{entry.name}' does not match its version; register the "
                             "model again.")  # fmt: skip
        return write_atomic(copy, data)

    def deactivate(self) -> None:
        """Return to the shipped default model (no registered model active)."""
        with reaching_database("return to the shipped model"), self._sessions.begin() as session:
            session.execute(update(_ModelRow).values(active=False))

    def delete(self, version: str) -> RegisteredModel:
        """Remove a model that is not active from the registry (its file is left to the caller)."""
        with reaching_database("delete the model"), self._sessions.begin() as session:
            row = session.get(_ModelRow, version)
            if row is None:
                raise StoreError(f"No model of version '{version}' in the registry.")
            if row.active:
                raise StoreError(f"'{row.name}' is the active model: activate another one before deleting it.")
            entry = _entry(row)
            session.delete(row)
            return entry
