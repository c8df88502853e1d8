"""How long patient data is kept, and the deletions that enforce it.

``XRAY_RETENTION_DAYS`` (default 365) is how many days verdict records (with their kept images) and scenes (with
their models and pins) are kept; ``off`` keeps them until deleted by hand. The app deletes what is older by itself
(:func:`apply_retention`, run by every server once an hour), and every deletion that removes something writes a row
to the audit trail, naming who or what deleted it. The audit trail, the accounts and the models are not patient
data and are kept.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import InputError
from core.store.audit import AuditTrail
from core.store.predictions import PredictionStore
from core.store.scenes import SceneStore

__all__ = ["DEFAULT_RETENTION_DAYS", "Deleted", "apply_retention", "delete_records", "retention_days"]

DEFAULT_RETENTION_DAYS = 365


def retention_days() -> int | None:
    """``XRAY_RETENTION_DAYS``: a whole number of days (at least 1), ``off`` for none, 365 when unset."""
    text = os.environ.get("XRAY_RETENTION_DAYS", "").strip().lower()
    if not text:
        return DEFAULT_RETENTION_DAYS
    if text in ("off", "never", "none"):
        return None
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise InputError(f"XRAY_RETENTION_DAYS is a whole number of days (at least 1) or 'off'; got '{text[:20]}'.")
    return int(text)


@dataclass(frozen=True)
class Deleted:
    """What a deletion removed: record ids and scene ids."""

    records: tuple[int, ...] = ()
    scenes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{len(self.records)} records, {len(self.scenes)} scenes"


def delete_records(*, actor: str, action: str, owner: str | None, ids: Sequence[int] | None = None,
                   before: dt.datetime | None = None, scenes_too: bool = False, url: str | None = None,
                   detail: str = "") -> Deleted:  # fmt: skip
    """Delete records (by ``ids`` and/or made ``before``; ``owner``'s, or anyone's with ``None``) and, with
    ``scenes_too``, the scenes made before ``before``; audit it as ``action`` by ``actor`` when anything went.

    ``action`` is "delete-records" (a doctor's own), "purge" (an admin's) or "retention" (the app's)."""
    records = PredictionStore(url).delete(owner=owner, ids=ids, before=before)
    scenes = SceneStore(url).delete(owner=owner, before=before) if scenes_too and before is not None else []
    deleted = Deleted(tuple(records), tuple(scenes))
    if records or scenes:
        shown = ", ".join(f"#{i}" for i in records[:50]) + (" …" if len(records) > 50 else "")
        AuditTrail(url).record(actor, action, shown or f"{len(scenes)} scenes",
                               " · ".join(filter(None, [str(deleted), detail])))  # fmt: skip
    return deleted


def apply_retention(days: int | None, *, url: str | None = None, now: dt.datetime | None = None) -> Deleted:
    """Delete every record and scene older than ``days`` (nothing with ``None``), audited as the app's doing."""
    if days is None:
        return Deleted()
    before = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    return delete_records(actor="app", action="retention", owner=None, before=before, scenes_too=True, url=url,
                          detail=f"older than {days} days (before {before:%Y-%m-%d %H:%M} UTC)")  # fmt: skip
