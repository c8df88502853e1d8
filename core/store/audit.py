"""The audit trail: who did what, when, to what. Append-only.

A row is written for each audited action (:data:`ACTIONS`): the account (or ``"link"`` for a headset opening a
scene by its link, ``"app"`` for the app's own retention job), the action, its target (a record id, a scene id, a
model version, an account) and a short detail. Rows are never changed or deleted: the database itself refuses
``UPDATE``, ``DELETE`` (and on PostgreSQL ``TRUNCATE``) on the table, by triggers created with it, so neither the
app nor a bug in it can rewrite the past; retention does not apply to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import DDL, DateTime, Integer, String, Text, event, select
from sqlalchemy.orm import Mapped, mapped_column

from core.store.db import Base, as_utc, reaching_database, session_factory

__all__ = ["ACTIONS", "AuditEvent", "AuditTrail"]

#: What is audited, and how the trail's page names it.
ACTIONS = {
    "sign-in": "signed in",
    "sign-in-failed": "failed to sign in",
    "sign-out": "signed out",
    "verdict": "made a verdict",
    "view-records": "listed records",
    "view-record": "viewed a record's image",
    "export-records": "exported records (CSV)",
    "export-report": "exported a report",
    "open-scene": "opened a scene (its model)",
    "create-scene": "made a scene",
    "revoke-scene": "revoked a scene's link",
    "activate-model": "activated a model",
    "delete-model": "deleted a model",
    "delete-records": "deleted records",
    "purge": "purged records and scenes",
    "retention": "deleted what passed the retention period",
    "add-user": "added an account",
    "change-user": "changed an account",
    "export-audit": "exported the audit trail",
}


class _EventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


_REFUSE = "the audit trail is append-only"
for _operation in ("UPDATE", "DELETE"):
    event.listen(_EventRow.__table__, "after_create", DDL(
        f"CREATE TRIGGER audit_events_no_{_operation.lower()} BEFORE {_operation} ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END").execute_if(dialect="sqlite"))  # fmt: skip
event.listen(_EventRow.__table__, "after_create", DDL(
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{_REFUSE}'; END $$").execute_if(dialect="postgresql"))  # fmt: skip
event.listen(_EventRow.__table__, "after_create", DDL(
    "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW "
    "EXECUTE FUNCTION audit_events_append_only()").execute_if(dialect="postgresql"))  # fmt: skip
event.listen(_EventRow.__table__, "after_create", DDL(
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT "
    "EXECUTE FUNCTION audit_events_append_only()").execute_if(dialect="postgresql"))  # fmt: skip


@dataclass(frozen=True)
class AuditEvent:
    """One row of the trail: ``at`` (UTC), ``actor``, ``action`` (a key of :data:`ACTIONS`), ``target``, ``detail``."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    detail: str

    @property
    def described(self) -> str:
        return ACTIONS.get(self.action, self.action)


class AuditTrail:
    """Append to and read the trail.

    Parameters
    ----------
    url : str, optional
        Database URL (default :func:`core.store.db.database_url`).
    """

    def __init__(self, url: str | None = None) -> None:
        self._sessions = session_factory(url)

    def record(self, actor: str, action: str, target: object = "", detail: str = "") -> None:
        """Append one row (``action`` must be a key of :data:`ACTIONS`)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown audit action {action!r}")  # a bug, not a user's doing
        row = _EventRow(at=dt.datetime.now(dt.UTC), actor=str(actor)[:64], action=action,
                        target=str(target)[:255], detail=str(detail)[:2000])  # fmt: skip
        with reaching_database("write the audit trail"), self._sessions.begin() as session:
            session.add(row)

    def query(self, *, actor: str | None = None, actions: list[str] | None = None, since: dt.datetime | None = None,
              until: dt.datetime | None = None, limit: int = 10_000) -> list[AuditEvent]:  # fmt: skip
        """Rows matching every given filter, newest first."""
        statement = select(_EventRow)
        if actor:
            statement = statement.where(_EventRow.actor == actor)
        if actions is not None:
            statement = statement.where(_EventRow.action.in_(actions))
        if since is not None:
            statement = statement.where(_EventRow.at >= as_utc(since))
        if until is not None:
            statement = statement.where(_EventRow.at < as_utc(until))
        statement = statement.order_by(_EventRow.at.desc(), _EventRow.id.desc()).limit(limit)
        with reaching_database("read the audit trail"), self._sessions() as session:
            return [AuditEvent(id=r.id, at=as_utc(r.at), actor=r.actor, action=r.action, target=r.target,
                               detail=r.detail) for r in session.scalars(statement)]  # fmt: skip
