"""3D scenes shared with headsets, and the annotation pins people drop on them.

A scene is a GLB file (made by :func:`core.export.gltf.mesh_to_glb`, with no patient data in it) under an unguessable
id; its annotations are points on the model (in the GLB's metres) with a short text label. Labels are stored as given
and must be shown as text (never as HTML) by every viewer.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import InputError
from core.store.db import Base, StoreError, as_utc, data_home, session_factory
from core.store.files import write_atomic

__all__ = ["MAX_ANNOTATIONS", "MAX_LABEL_CHARS", "Annotation", "Scene", "SceneNotFound", "SceneStore"]

MAX_LABEL_CHARS = 200
MAX_ANNOTATIONS = 500
_MAX_COORDINATE_M = 10.0  # a chest model is well under a metre across; anything beyond 10 m is a bad request


def _clean_label(label: object) -> str:
    text = str(label).strip()
    if not 1 <= len(text) <= MAX_LABEL_CHARS:
        raise InputError(f"An annotation's label needs 1 to {MAX_LABEL_CHARS} characters; got {len(text)}.")
    return text


class SceneNotFound(StoreError):
    """No scene with that id (answered with 404 by the server)."""


class _SceneRow(Base):
    __tablename__ = "scenes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    glb: Mapped[str] = mapped_column(Text)


class _AnnotationRow(Base):
    __tablename__ = "annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scene_id: Mapped[str] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"), index=True)
    x: Mapped[float] = mapped_column(Float)
    y: Mapped[float] = mapped_column(Float)
    z: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(Text)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Scene:
    """A stored scene: ``id``, ``title``, ``created`` (UTC) and the GLB file's ``path``."""

    id: str
    title: str
    created: dt.datetime
    path: Path


@dataclass(frozen=True)
class Annotation:
    """A pin: ``position`` in the scene's metres, its ``label`` (plain text), ``created`` (UTC)."""

    id: int
    scene_id: str
    position: tuple[float, float, float]
    label: str
    created: dt.datetime


def _pin(session: Session, scene_id: str, annotation_id: int) -> _AnnotationRow:
    """An annotation's row, only through its own scene."""
    row = session.get(_AnnotationRow, int(annotation_id))
    if row is None or row.scene_id != scene_id:
        raise SceneNotFound(f"No annotation {annotation_id} in scene '{scene_id}'.")
    return row


class SceneStore:
    """Create scenes and keep their annotations.

    Parameters
    ----------
    url : str, optional
        Database URL (default :func:`core.store.db.database_url`).
    folder : Path, optional
        Where GLB files go (default ``<data home>/scenes``).
    """

    def __init__(self, url: str | None = None, *, folder: Path | None = None) -> None:
        self._sessions = session_factory(url)
        self.folder = folder or data_home() / "scenes"

    def create(self, glb: bytes, *, title: str) -> Scene:
        """Store a GLB under a new unguessable id."""
        if not glb.startswith(b"glTF"):
            raise InputError("A scene needs a binary glTF (GLB) file.")
        scene_id = secrets.token_hex(16)
        path = write_atomic(self.folder / f"{scene_id}.glb", glb)
        row = _SceneRow(id=scene_id, title=title.strip()[:200] or "3D scene", created=dt.datetime.now(dt.UTC),
                        glb=str(path))  # fmt: skip
        with self._sessions.begin() as session:
            session.add(row)
        return Scene(id=scene_id, title=row.title, created=row.created, path=path)

    def get(self, scene_id: str) -> Scene:
        """The scene, or :class:`SceneNotFound`."""
        with self._sessions() as session:
            row = session.get(_SceneRow, str(scene_id)[:32])
            if row is None or not Path(row.glb).is_file():
                raise SceneNotFound(f"No scene '{scene_id}'.")
            return Scene(id=row.id, title=row.title, created=as_utc(row.created), path=Path(row.glb))

    def annotations(self, scene_id: str) -> list[Annotation]:
        """A scene's pins, oldest first."""
        self.get(scene_id)
        statement = select(_AnnotationRow).where(_AnnotationRow.scene_id == scene_id).order_by(_AnnotationRow.id)
        with self._sessions() as session:
            return [Annotation(id=r.id, scene_id=r.scene_id, position=(r.x, r.y, r.z), label=r.label,
                               created=as_utc(r.created)) for r in session.scalars(statement)]  # fmt: skip

    def annotate(self, scene_id: str, position: tuple[float, float, float], label: str) -> Annotation:
        """Add a pin; the label is stripped, 1-200 characters, kept as plain text."""
        self.get(scene_id)
        try:
            x, y, z = (float(v) for v in position)
        except (TypeError, ValueError) as error:
            raise InputError("An annotation's position is three numbers (metres).") from error
        if not all(math.isfinite(v) and abs(v) <= _MAX_COORDINATE_M for v in (x, y, z)):
            raise InputError(f"An annotation's position must be finite and within {_MAX_COORDINATE_M:g} m.")
        label = _clean_label(label)
        if len(self.annotations(scene_id)) >= MAX_ANNOTATIONS:
            raise InputError(f"This scene already has {MAX_ANNOTATIONS} annotations, the most it can hold.")
        row = _AnnotationRow(scene_id=scene_id, x=x, y=y, z=z, label=label, created=dt.datetime.now(dt.UTC))
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()
            return Annotation(id=row.id, scene_id=scene_id, position=(x, y, z), label=label, created=row.created)

    def relabel(self, scene_id: str, annotation_id: int, label: str) -> Annotation:
        """Change a pin's label (e.g. one dropped in a headset with a preset label)."""
        label = _clean_label(label)
        with self._sessions.begin() as session:
            row = _pin(session, scene_id, annotation_id)
            row.label = label
            return Annotation(id=row.id, scene_id=scene_id, position=(row.x, row.y, row.z), label=label,
                              created=as_utc(row.created))  # fmt: skip

    def delete_annotation(self, scene_id: str, annotation_id: int) -> None:
        """Remove one pin of a scene."""
        with self._sessions.begin() as session:
            session.delete(_pin(session, scene_id, annotation_id))
