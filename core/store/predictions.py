"""Every prediction the workstation makes, kept on record: what was seen (a hash, not the image), what was said,
by which model, for whom, when. The image itself is kept only when the user asks.

Each record has an owner (the account that made it). Reading takes ``owner`` explicitly: a name reads that account's
records only, ``None`` every record (admins). Records made before accounts existed have no owner: only admins see
them. Records are deleted by their owner, by an admin, or by the retention job (:meth:`PredictionStore.delete`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, Float, Integer, LargeBinary, String, Text, delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from core.store.db import Base, as_utc, database_failure, reaching_database, session_factory
from core.types import Prediction, reading

__all__ = ["PredictionStore", "StoredPrediction"]


class _PredictionRow(Base):
    __tablename__ = "predictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    file_name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(16), index=True)
    p_normal: Mapped[float] = mapped_column(Float)
    p_pneumonia: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    borderline: Mapped[bool] = mapped_column(Boolean, default=False)
    ood_score: Mapped[float | None] = mapped_column(Float, nullable=True)  # NULL: the model gave no score
    unfamiliar: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    model: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(64), index=True)
    warnings: Mapped[str] = mapped_column(Text, default="[]")
    image: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # None: before accounts


@dataclass(frozen=True)
class StoredPrediction:
    """One record, as read back.

    Attributes
    ----------
    id : int
    created : datetime
        When the prediction was made (UTC).
    file_name, sha256 : str
        The file's name and the SHA-256 of its bytes.
    label : str
    p_normal, p_pneumonia, threshold : float
    borderline : bool
        Whether the score lay in the model's borderline band (the verdict read "borderline: review"); records made
        before the band existed read False.
    ood_score : float or None
        How unlike the model's training images the image was (:class:`core.types.OutOfDistribution`); ``None``
        when the model gave no such score, and for records made before the score existed.
    unfamiliar : bool or None
        Whether the image was flagged as unlike the training images (the verdict read "unreliable: unfamiliar
        image"); ``None`` when it was not assessed (as ``ood_score``).
    model : str
        The model's description (file, architecture, epoch, date).
    model_version : str
        The first 12 hex digits of the checkpoint's SHA-256.
    warnings : tuple of str
        Suitability warnings shown with the verdict.
    has_image : bool
        Whether the image's bytes were kept.
    owner : str or None
        The account that made it (``None`` for records made before accounts existed).
    """

    id: int
    created: dt.datetime
    file_name: str
    sha256: str
    label: str
    p_normal: float
    p_pneumonia: float
    threshold: float
    borderline: bool
    ood_score: float | None
    unfamiliar: bool | None
    model: str
    model_version: str
    warnings: tuple[str, ...]
    has_image: bool
    owner: str | None = None

    @property
    def reading(self) -> str:
        """How the verdict read: ``"unreliable: unfamiliar image (reads PNEUMONIA)"`` for a flagged image,
        ``"borderline: review (leans PNEUMONIA)"`` in the band, else the label (:func:`core.types.reading`)."""
        return reading(self.label, self.borderline, bool(self.unfamiliar))


class PredictionStore:
    """Write and query prediction records.

    Parameters
    ----------
    url : str, optional
        A SQLAlchemy URL; :func:`core.store.db.database_url` when omitted.
    """

    def __init__(self, url: str | None = None) -> None:
        self._sessions = session_factory(url)

    def add(
        self,
        *,
        file_name: str,
        sha256: str,
        prediction: Prediction,
        model_version: str,
        warnings: Sequence[str] = (),
        image: bytes | None = None,
        owner: str,
    ) -> int:
        """Record one prediction made for ``owner`` (an account's name); returns its id. ``image`` (the file's
        bytes) only when the user asked."""
        file_name = _storable(file_name)[:255]
        ood = prediction.out_of_distribution
        row = _PredictionRow(
            created=dt.datetime.now(dt.UTC),
            file_name=file_name,
            sha256=sha256,
            label=prediction.label,
            p_normal=float(prediction.probabilities["NORMAL"]),
            p_pneumonia=float(prediction.probabilities["PNEUMONIA"]),
            threshold=float(prediction.threshold),
            borderline=prediction.borderline,
            ood_score=None if ood is None else float(ood.score),
            unfamiliar=None if ood is None else bool(ood.flag),
            model=prediction.model[:255],
            model_version=model_version,
            warnings=json.dumps([_storable(w) for w in warnings]),
            image=image,
            owner=owner,
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
                session.flush()
                return row.id
        except SQLAlchemyError as error:
            raise database_failure(error, f"record the prediction for '{file_name}'") from error

    def query(
        self,
        *,
        owner: str | None,
        labels: Sequence[str] | None = None,
        model_version: str | None = None,
        name_contains: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        borderline: bool | None = None,
        unfamiliar: bool | None = None,
        limit: int = 10_000,
    ) -> list[StoredPrediction]:
        """Records matching every given filter, newest first.

        Parameters
        ----------
        owner : str or None
            An account's name: its records only; ``None``: every record (for admins). Required, so that no caller
            reads everyone's records by omission.
        labels : sequence of str, optional
            Keep these verdicts only.
        model_version : str, optional
        name_contains : str, optional
            Case-insensitive part of the file name.
        since, until : datetime, optional
            Creation time bounds (inclusive, exclusive); naive times are taken as UTC.
        borderline : bool, optional
            Keep only the verdicts in (``True``) or out of (``False``) their model's borderline band.
        unfamiliar : bool, optional
            Keep only the images flagged as unlike the model's training images (``True``), or only those assessed
            and not flagged (``False``); records not assessed match neither.
        limit : int
        """
        statement = _owned(select(_PredictionRow, _PredictionRow.image.isnot(None)), owner)
        if labels is not None:
            statement = statement.where(_PredictionRow.label.in_(list(labels)))
        if model_version:
            statement = statement.where(_PredictionRow.model_version == model_version)
        if name_contains:
            statement = statement.where(_PredictionRow.file_name.icontains(name_contains, autoescape=True))
        if borderline is not None:
            statement = statement.where(_PredictionRow.borderline.is_(borderline))
        if unfamiliar is not None:
            statement = statement.where(_PredictionRow.unfamiliar.is_(unfamiliar))
        if since is not None:
            statement = statement.where(_PredictionRow.created >= as_utc(since))
        if until is not None:
            statement = statement.where(_PredictionRow.created < as_utc(until))
        statement = statement.order_by(_PredictionRow.created.desc(), _PredictionRow.id.desc()).limit(limit)
        try:
            with self._sessions() as session:
                return [_stored(row, has_image) for row, has_image in session.execute(statement)]
        except SQLAlchemyError as error:
            raise database_failure(error, "read the prediction records") from error

    def image(self, record_id: int, *, owner: str | None) -> bytes | None:
        """The kept image bytes of a record (``None`` when none were kept, or the record does not exist or is not
        ``owner``'s)."""
        statement = _owned(select(_PredictionRow.image).where(_PredictionRow.id == record_id), owner)
        with reaching_database("read the kept image"), self._sessions() as session:
            return session.scalar(statement)

    def model_versions(self, *, owner: str | None) -> dict[str, str]:
        """Model version → description, for every model that has records (``owner``'s, or everyone's)."""
        statement = _owned(select(_PredictionRow.model_version, _PredictionRow.model).distinct(), owner)
        with reaching_database("read the prediction records"), self._sessions() as session:
            return {version: model for version, model in session.execute(statement)}

    def delete(self, *, owner: str | None, ids: Sequence[int] | None = None,
               before: dt.datetime | None = None) -> list[int]:  # fmt: skip
        """Delete records (and their kept images): those of ``ids``, or those made before ``before``, or both
        filters; ``owner``'s only, or anyone's with ``None``. Without ``ids`` or ``before`` nothing is deleted.
        Returns the ids deleted."""
        if ids is None and before is None:
            return []
        statement = _owned(select(_PredictionRow.id), owner)
        if ids is not None:
            statement = statement.where(_PredictionRow.id.in_([int(i) for i in ids]))
        if before is not None:
            statement = statement.where(_PredictionRow.created < as_utc(before))
        with reaching_database("delete the records"), self._sessions.begin() as session:
            gone = list(session.scalars(statement))
            for start in range(0, len(gone), 500):
                session.execute(delete(_PredictionRow).where(_PredictionRow.id.in_(gone[start : start + 500])))
        return gone


def _stored(row: _PredictionRow, has_image: bool) -> StoredPrediction:
    return StoredPrediction(
        id=row.id,
        created=as_utc(row.created),
        file_name=row.file_name,
        sha256=row.sha256,
        label=row.label,
        p_normal=row.p_normal,
        p_pneumonia=row.p_pneumonia,
        threshold=row.threshold,
        borderline=bool(row.borderline),
        ood_score=row.ood_score,
        unfamiliar=None if row.unfamiliar is None else bool(row.unfamiliar),
        model=row.model,
        model_version=row.model_version,
        warnings=tuple(json.loads(row.warnings or "[]")),
        has_image=bool(has_image),
        owner=row.owner,
    )


def _owned(statement, owner: str | None):
    """``statement`` restricted to ``owner``'s records (``None``: unrestricted)."""
    return statement if owner is None else statement.where(_PredictionRow.owner == owner)


def _storable(text: str) -> str:
    """Text any database keeps: NUL characters (refused by PostgreSQL) and lone surrogates (not UTF-8) replaced. File
    names come from the user's machine and are only shown back."""
    text = str(text).replace("\x00", "\ufffd")
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text
