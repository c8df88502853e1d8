"""3D scenes shared with headsets, and the annotation pins people drop on them.

A scene is a GLB (made by :func:`core.export.gltf.mesh_to_glb`, with no patient data in it) under an unguessable
id; its annotations are points on the model (in the GLB's metres) with a short text label. Labels are stored as given
(stripped) and must be shown as text (never as HTML) by every viewer.

The GLB's bytes are kept in the database (table ``scene_models``), so every app server sharing one database (e.g.
PostgreSQL behind a load balancer) serves every scene. Scenes made before that kept the GLB as a file whose path is in
``scenes.glb``: they are read from that file where it exists (on the server that made them), and on that first read
their GLB moves into the database (the file is left in place); new scenes store an empty ``scenes.glb``.

Each scene has an owner (the account that made it; ``None`` for scenes made before accounts), who lists it
(:meth:`SceneStore.owned`), may revoke its link (the scene then answers as unknown, for good) and delete it. The
same owner opening the same content again gets the same scene back (:meth:`SceneStore.create`), so the pins dropped
on it are kept. Whoever has a live link may view and annotate the scene: the link is the key, and revoking it is how
it is taken back.

Every refusal is a sentence: :class:`~core.errors.InputError` for bad input (checked before it reaches the
database: lone surrogates, NUL and other control characters, numbers that are not finite, ids past the 32-bit id
column), :class:`SceneNotFound` for unknown scenes and pins, and :class:`~core.store.db.StoreError` when the database
cannot be reached (its message names no URL, path or SQL; the cause is chained and logged).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import numbers
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import (
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy import delete as sa_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.errors import InputError, SceneNotFound
from core.store.db import Base, StoreError, as_utc, reaching_database, session_factory

__all__ = [
    "MAX_ANNOTATIONS",
    "MAX_GLB_BYTES",
    "MAX_LABEL_CHARS",
    "MAX_PIN_ID",
    "MAX_TITLE_CHARS",
    "Annotation",
    "Scene",
    "SceneNotFound",
    "SceneStore",
]

MAX_LABEL_CHARS = 200
MAX_TITLE_CHARS = 200
MAX_ANNOTATIONS = 500
MAX_GLB_BYTES = 8 * 1024 * 1024  # core.export.gltf.MAX_GLB_BYTES (not imported: that module loads trimesh)
MAX_PIN_ID = 2**31 - 1  # the annotations' id column is a 32-bit INTEGER on PostgreSQL
_MAX_COORDINATE_M = 10.0  # a chest model is well under a metre across; anything beyond 10 m is a bad request
_SCENE_ID = re.compile(r"[0-9a-f]{32}")


# Explicit direction embeddings, overrides and isolates: they can make a label display as other text (U+202E).
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _clean_text(text: object, *, what: str, most: int) -> str:
    """``text`` stripped, or :class:`InputError` unless it is 1 to ``most`` characters that every database stores and
    every viewer shows as it is: no lone surrogates (not Unicode), no control characters (NUL, line and paragraph
    separators, text-direction overrides), something visible."""
    if not isinstance(text, str):
        raise InputError(f"{what} is text; got {type(text).__name__}.")
    text = text.strip()
    if any(unicodedata.category(c) == "Cs" for c in text):
        raise InputError(f"{what} contains a lone surrogate, which is not Unicode text; send it as UTF-8.")
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in _BIDI_CONTROLS for c in text):
        raise InputError(
            f"{what} contains a control character (such as NUL, a line break or a text-direction override); use "
            "plain text on one line."
        )
    visible = sum(not unicodedata.category(c).startswith(("Z", "C")) for c in text)
    if not visible or len(text) > most:
        raise InputError(f"{what} needs 1 to {most} characters, some of them visible; got {len(text)}.")
    return text


def _clean_label(label: object) -> str:
    return _clean_text(label, what="An annotation's label", most=MAX_LABEL_CHARS)


def _clean_position(position: object) -> tuple[float, float, float]:
    """Three finite numbers within 10 m, or :class:`InputError` (also for ints too large for a float)."""
    try:
        values = tuple(position)  # type: ignore[arg-type]
    except TypeError as error:
        raise InputError("An annotation's position is three numbers (metres).") from error
    if len(values) != 3 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
        raise InputError("An annotation's position is three numbers (metres).")
    try:
        x, y, z = (float(v) for v in values)
    except OverflowError:  # an int with hundreds of digits
        x = y = z = math.inf
    if not all(math.isfinite(v) and abs(v) <= _MAX_COORDINATE_M for v in (x, y, z)):
        raise InputError(f"An annotation's position must be finite and within {_MAX_COORDINATE_M:g} m.")
    return x, y, z


def _scene_id(scene_id: object) -> str:
    """The id if it can be one (32 lowercase hex digits), else :class:`SceneNotFound` before any query."""
    if not isinstance(scene_id, str) or not _SCENE_ID.fullmatch(scene_id):
        raise SceneNotFound("No such scene.")
    return scene_id


def _pin_id(annotation_id: object) -> int:
    """The id if it can be one (1 to :data:`MAX_PIN_ID`), else :class:`SceneNotFound` before any query (the driver
    would fail on a number past 64 bits, PostgreSQL on one past 32)."""
    if isinstance(annotation_id, bool) or not isinstance(annotation_id, int) or not 1 <= annotation_id <= MAX_PIN_ID:
        raise SceneNotFound("No such annotation.")
    return annotation_id


class _SceneRow(Base):
    __tablename__ = "scenes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # The GLB file of a scene made before GLBs were kept in scene_models; empty for newer scenes.
    legacy_path: Mapped[str] = mapped_column("glb", Text, default="")
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # None: before accounts
    content: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # SHA-256 of the GLB
    revoked: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # last given back


class _ModelRow(Base):
    __tablename__ = "scene_models"

    scene_id: Mapped[str] = mapped_column(ForeignKey("scenes.id", ondelete="CASCADE"), primary_key=True)
    glb: Mapped[bytes] = mapped_column(LargeBinary)


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
    """A stored scene: ``id``, ``title`` and ``created`` (UTC), its ``owner``, and its number of ``pins`` where listed
    (:meth:`SceneStore.owned`); its GLB is :meth:`SceneStore.model`."""

    id: str
    title: str
    created: dt.datetime
    owner: str | None = None
    pins: int | None = None


def _scene(row: _SceneRow, pins: int | None = None) -> Scene:
    return Scene(id=row.id, title=row.title, created=as_utc(row.created), owner=row.owner, pins=pins)


@dataclass(frozen=True)
class Annotation:
    """A pin: ``position`` in the scene's metres, its ``label`` (plain text), ``created`` (UTC)."""

    id: int
    scene_id: str
    position: tuple[float, float, float]
    label: str
    created: dt.datetime


def _scene_row(session: Session, scene_id: object, *, lock: bool = False) -> _SceneRow:
    """A scene's row (locked until the transaction ends if ``lock``, on databases that lock rows), or
    :class:`SceneNotFound`, also for a scene from before GLBs were kept in the database whose file is gone."""
    statement = select(_SceneRow).where(_SceneRow.id == _scene_id(scene_id))
    row = session.scalars(statement.with_for_update() if lock else statement).one_or_none()
    if row is None or row.revoked is not None or (row.legacy_path and not Path(row.legacy_path).is_file()):
        raise SceneNotFound("No such scene.")
    return row


def _pin(session: Session, scene_id: object, annotation_id: object) -> _AnnotationRow:
    """An annotation's row, only through its own scene."""
    scene_id, annotation_id = _scene_id(scene_id), _pin_id(annotation_id)
    row = session.get(_AnnotationRow, annotation_id)
    if row is None or row.scene_id != scene_id:
        raise SceneNotFound("No such annotation in this scene.")
    return row


def _annotation(row: _AnnotationRow) -> Annotation:
    return Annotation(id=row.id, scene_id=row.scene_id, position=(row.x, row.y, row.z), label=row.label,
                      created=as_utc(row.created))  # fmt: skip


class SceneStore:
    """Create scenes and keep their annotations.

    Parameters
    ----------
    url : str, optional
        Database URL (default :func:`core.store.db.database_url`).

    Raises
    ------
    StoreError
        The database cannot be opened (a sentence without its URL or path).
    """

    def __init__(self, url: str | None = None) -> None:
        self._sessions = session_factory(url)
        self.url = self._sessions.kw["bind"].url.render_as_string(hide_password=False)

    def create(self, glb: bytes, *, title: str, owner: str | None = None) -> Scene:
        """Store a GLB (at most :data:`MAX_GLB_BYTES`) under a new unguessable id, or, when ``owner`` already has a
        live scene of the same GLB, give that one back (its pins kept; the title is not changed).

        Parameters
        ----------
        glb : bytes
            Binary glTF.
        title : str
            Shown to whoever has the link: no patient data. Stripped and cut to :data:`MAX_TITLE_CHARS`; a blank
            one becomes "3D scene".
        owner : str, optional
            The account making it.

        Returns
        -------
        Scene
        """
        if not isinstance(glb, bytes | bytearray) or not glb.startswith(b"glTF"):
            raise InputError("A scene needs a binary glTF (GLB) file.")
        if len(glb) > MAX_GLB_BYTES:
            raise InputError(f"A scene's GLB is at most {MAX_GLB_BYTES // 2**20} MB; this one is "
                             f"{len(glb) / 2**20:.1f} MB. Export it with core.export.gltf.mesh_to_glb.")  # fmt: skip
        title = title.strip()[:MAX_TITLE_CHARS] if isinstance(title, str) else title
        title = _clean_text(title or "3D scene", what="A scene's title", most=MAX_TITLE_CHARS)
        content = hashlib.sha256(glb).hexdigest()
        with reaching_database("store the scene"), self._sessions.begin() as session:
            if owner is not None:
                same = select(_SceneRow).where(_SceneRow.owner == owner, _SceneRow.content == content,
                                               _SceneRow.revoked.is_(None))  # fmt: skip
                existing = session.scalars(same.order_by(_SceneRow.created.desc())).first()
                if existing is not None:
                    existing.used = dt.datetime.now(dt.UTC)  # retention counts from its last use
                    return _scene(existing)
            row = _SceneRow(id=secrets.token_hex(16), title=title, created=dt.datetime.now(dt.UTC), legacy_path="",
                            owner=owner, content=content)  # fmt: skip
            session.add(row)
            session.flush()  # the scene before its model (the foreign key)
            session.add(_ModelRow(scene_id=row.id, glb=bytes(glb)))
            return _scene(row)

    def get(self, scene_id: str) -> Scene:
        """The scene, or :class:`SceneNotFound` (also once its link is revoked)."""
        with reaching_database("read the scene"), self._sessions() as session:
            return _scene(_scene_row(session, scene_id))

    def owned(self, *, owner: str | None) -> list[Scene]:
        """The live scenes of ``owner`` (every live scene with ``None``, for admins), newest first, with their
        numbers of pins."""
        pins = (select(_AnnotationRow.scene_id, func.count().label("n")).group_by(_AnnotationRow.scene_id)
                .subquery())  # fmt: skip
        statement = (select(_SceneRow, func.coalesce(pins.c.n, 0)).outerjoin(pins, pins.c.scene_id == _SceneRow.id)
                     .where(_SceneRow.revoked.is_(None)).order_by(_SceneRow.created.desc()))  # fmt: skip
        if owner is not None:
            statement = statement.where(_SceneRow.owner == owner)
        with reaching_database("list the scenes"), self._sessions() as session:
            return [_scene(row, int(n)) for row, n in session.execute(statement)]

    def revoke(self, scene_id: str, *, owner: str | None) -> None:
        """Take a scene's link back for good: it answers as unknown from then on (its pins stay in the database
        until it is deleted). ``owner``'s scenes only (any with ``None``); :class:`SceneNotFound` otherwise."""
        with reaching_database("revoke the scene's link"), self._sessions.begin() as session:
            row = _scene_row(session, scene_id, lock=True)
            if owner is not None and row.owner != owner:
                raise SceneNotFound("No such scene.")
            row.revoked = dt.datetime.now(dt.UTC)

    def delete(self, *, owner: str | None, before: dt.datetime) -> list[str]:
        """Delete the scenes (revoked ones too) last made or reused before ``before``, with their models, pins and
        the GLB files of scenes from before GLBs were kept in the database: ``owner``'s only, or anyone's with
        ``None``. Returns their ids."""
        last = func.coalesce(_SceneRow.used, _SceneRow.created)
        statement = select(_SceneRow.id, _SceneRow.legacy_path).where(last < as_utc(before))
        if owner is not None:
            statement = statement.where(_SceneRow.owner == owner)
        with reaching_database("delete the scenes"), self._sessions.begin() as session:
            found = session.execute(statement).all()
            gone = [scene_id for scene_id, _ in found]
            for _, legacy in found:
                if legacy:
                    Path(legacy).unlink(missing_ok=True)
            for start in range(0, len(gone), 500):
                chunk = gone[start : start + 500]
                for table in (_AnnotationRow, _ModelRow):  # explicit: SQLite's cascade needs foreign keys on
                    session.execute(sa_delete(table).where(table.scene_id.in_(chunk)))
                session.execute(sa_delete(_SceneRow).where(_SceneRow.id.in_(chunk)))
        return gone

    def model(self, scene_id: str) -> bytes:
        """The scene's GLB, or :class:`SceneNotFound`."""
        with reaching_database("read the scene's model"), self._sessions() as session:
            row = _scene_row(session, scene_id)
            glb = session.scalar(select(_ModelRow.glb).where(_ModelRow.scene_id == row.id))
            legacy = row.legacy_path
        if glb is not None:
            return bytes(glb)
        try:  # a scene from before GLBs were kept in the database
            glb = Path(legacy).read_bytes()
        except OSError as error:
            raise SceneNotFound("No such scene.") from error
        self._adopt(row.id, glb)
        return glb

    def _adopt(self, scene_id: str, glb: bytes) -> None:
        """Move an older scene's GLB from its file into the database (on the first read through the server that has
        the file), so that every server sharing the database serves it from then on; the file is left in place."""
        try:
            with reaching_database("store the scene's model"), self._sessions.begin() as session:
                session.add(_ModelRow(scene_id=scene_id, glb=glb))
                session.flush()
                session.get(_SceneRow, scene_id).legacy_path = ""
        except StoreError as error:
            if not isinstance(error.__cause__, IntegrityError):
                raise
            # another request moved it first

    def annotations(self, scene_id: str) -> list[Annotation]:
        """A scene's pins, oldest first."""
        with reaching_database("read the scene's annotations"), self._sessions() as session:
            _scene_row(session, scene_id)
            statement = select(_AnnotationRow).where(_AnnotationRow.scene_id == scene_id).order_by(_AnnotationRow.id)
            return [_annotation(r) for r in session.scalars(statement)]

    def annotate(self, scene_id: str, position: tuple[float, float, float], label: str) -> Annotation:
        """Add a pin; the label is stripped, 1-200 characters, kept as plain text.

        At most :data:`MAX_ANNOTATIONS` per scene, also under concurrent requests from several servers: the scene's
        row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL) and the pin is inserted by one statement that
        counts the scene's pins first (SQLite runs a statement under its write lock).
        """
        x, y, z = _clean_position(position)
        label = _clean_label(label)
        created = dt.datetime.now(dt.UTC)
        pins = _AnnotationRow.__table__.c
        count = select(func.count()).where(pins.scene_id == scene_id).scalar_subquery()
        values = select(literal(scene_id, String(32)), literal(x, Float), literal(y, Float), literal(z, Float),
                        literal(label, Text), literal(created, DateTime(timezone=True)))  # fmt: skip
        statement = (
            insert(_AnnotationRow)
            .from_select(["scene_id", "x", "y", "z", "label", "created"], values.where(count < MAX_ANNOTATIONS))
            .returning(pins.id)
        )
        with reaching_database("store the annotation"), self._sessions.begin() as session:
            _scene_row(session, scene_id, lock=True)
            pin_id = session.execute(statement).scalar_one_or_none()
        if pin_id is None:
            raise InputError(f"This scene already has {MAX_ANNOTATIONS} annotations, the most it can hold.")
        return Annotation(id=pin_id, scene_id=scene_id, position=(x, y, z), label=label, created=created)

    def relabel(self, scene_id: str, annotation_id: int, label: str) -> Annotation:
        """Change a pin's label (e.g. one dropped in a headset with a preset label)."""
        label = _clean_label(label)
        with reaching_database("rename the annotation"), self._sessions.begin() as session:
            row = _pin(session, scene_id, annotation_id)
            row.label = label
            return _annotation(row)

    def delete_annotation(self, scene_id: str, annotation_id: int) -> None:
        """Remove one pin of a scene."""
        with reaching_database("delete the annotation"), self._sessions.begin() as session:
            session.delete(_pin(session, scene_id, annotation_id))
