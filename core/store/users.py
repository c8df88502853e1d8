"""The workstation's accounts: a name, a role (doctor or admin), a scrypt password hash (:mod:`core.auth`) and/or an
e-mail address for single sign-on.

Names are 1 to 64 characters of letters, digits, ``.``, ``_``, ``-`` and ``@``, kept in lower case (so ``Alice`` and
``alice`` are one account). An account is never deleted, only disabled: the records and the audit trail name it.
The first admin comes from the command line (``python -m core add-user NAME --admin``); admins add the others on
the Accounts page.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Boolean, DateTime, String, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from core.auth import hash_password
from core.errors import InputError, StoreError
from core.store.db import Base, as_utc, reaching_database, session_factory

__all__ = ["RESERVED", "ROLES", "User", "UserStore", "account_name"]

ROLES = ("doctor", "admin")
_NAME = re.compile(r"[a-z0-9._@-]{1,64}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
#: Names the app itself writes in records and the audit trail (single-user mode's user, the retention job, a scene's
#: link holder, a visitor): no account may take one.
RESERVED = frozenset({"local", "app", "link", "visitor", "unknown", "admin-local"})


class _UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: single sign-on only
    email: Mapped[str | None] = mapped_column(String(255), nullable=True, unique=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class User:
    """An account as the app sees it: ``name``, ``role`` ("doctor" or "admin"), ``email`` (or ``None``)."""

    name: str
    role: str
    email: str | None = None
    created: dt.datetime | None = None
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def account_name(name: object) -> str:
    """The account's name in lower case, or :class:`InputError` unless it is 1-64 letters, digits, ``._@-``."""
    text = name.strip().lower() if isinstance(name, str) else ""
    if not _NAME.fullmatch(text):
        raise InputError("An account name is 1 to 64 letters, digits, dots, dashes, underscores or @, e.g. 'j.doe'.")
    if text in RESERVED:
        raise InputError(f"'{text}' is a name the app uses itself; choose another.")
    return text


def _email(email: object) -> str | None:
    if email is None or (isinstance(email, str) and not email.strip()):
        return None
    text = email.strip().lower() if isinstance(email, str) else ""
    if not _EMAIL.fullmatch(text):
        raise InputError(f"'{str(email)[:80]}' is not an e-mail address.")
    return text


def _role(role: object) -> str:
    if role not in ROLES:
        raise InputError(f"A role is one of {', '.join(ROLES)}; got '{str(role)[:20]}'.")
    return str(role)


def _user(row: _UserRow) -> User:
    return User(name=row.name, role=row.role, email=row.email, created=as_utc(row.created),
                disabled=bool(row.disabled))  # fmt: skip


class UserStore:
    """Add, read and change accounts.

    Parameters
    ----------
    url : str, optional
        Database URL (default :func:`core.store.db.database_url`).
    """

    def __init__(self, url: str | None = None) -> None:
        self._sessions = session_factory(url)

    def add(self, name: str, *, role: str = "doctor", password: str | None = None, email: str | None = None) -> User:
        """A new account; it needs a password (at least 8 characters), an e-mail address for single sign-on, or
        both. :class:`InputError` when the name or the address is taken."""
        name, role, email = account_name(name), _role(role), _email(email)
        if password is None and email is None:
            raise InputError("An account needs a password, an e-mail address for single sign-on, or both.")
        row = _UserRow(name=name, role=role, email=email, created=dt.datetime.now(dt.UTC), disabled=False,
                       password_hash=None if password is None else hash_password(password))  # fmt: skip
        try:
            with reaching_database("add the account"), self._sessions.begin() as session:
                session.add(row)
        except StoreError as error:
            if isinstance(error.__cause__, IntegrityError):
                raise InputError(f"The account name '{name}' or its e-mail address is already taken.") from error
            raise
        return _user(row)

    def _row(self, name: str) -> _UserRow | None:
        """The account's row, or ``None`` (also for a name that cannot be one)."""
        try:
            name = account_name(name)
        except InputError:
            return None
        with reaching_database("read the account"), self._sessions() as session:
            return session.get(_UserRow, name)

    def get(self, name: str) -> User | None:
        """The account (disabled ones too), or ``None``."""
        row = self._row(name)
        return None if row is None else _user(row)

    def by_email(self, email: str) -> User | None:
        """The enabled account with this e-mail address (single sign-on), or ``None``."""
        try:
            email = _email(email)
        except InputError:
            return None
        if email is None:
            return None
        statement = select(_UserRow).where(_UserRow.email == email, _UserRow.disabled.is_(False))
        with reaching_database("read the account"), self._sessions() as session:
            row = session.scalars(statement).one_or_none()
            return None if row is None else _user(row)

    def password_hash(self, name: str) -> str | None:
        """The hash to check a password against: ``None`` for an unknown or disabled account, or one without a
        password (then no password signs in)."""
        row = self._row(name)
        return None if row is None or row.disabled else row.password_hash

    def all(self) -> list[User]:
        """Every account, by name."""
        with reaching_database("read the accounts"), self._sessions() as session:
            return [_user(row) for row in session.scalars(select(_UserRow).order_by(_UserRow.name))]

    def count(self) -> int:
        """How many accounts exist (disabled ones too)."""
        with reaching_database("read the accounts"), self._sessions() as session:
            return session.scalar(select(func.count()).select_from(_UserRow))

    def update(self, name: str, *, role: str | None = None, password: str | None = None,
               disabled: bool | None = None) -> User:  # fmt: skip
        """Change an account's role, password or whether it is disabled. The last enabled admin cannot be demoted
        or disabled (nobody could administer the server any more)."""
        name = account_name(name)
        role = None if role is None else _role(role)
        new_hash = None if password is None else hash_password(password)
        with reaching_database("change the account"), self._sessions.begin() as session:
            row = session.get(_UserRow, name, with_for_update=True)
            if row is None:
                raise InputError(f"There is no account '{name}'.")
            losing_admin = row.role == "admin" and not row.disabled and (role == "doctor" or disabled)
            if losing_admin:  # every enabled admin's row locked: two admins demoting each other take turns
                admins = select(_UserRow.name).where(_UserRow.role == "admin", _UserRow.disabled.is_(False))
                if len(session.scalars(admins.with_for_update()).all()) <= 1:
                    raise InputError(f"'{name}' is the last admin: make another admin first.")
            if role is not None:
                row.role = role
            if new_hash is not None:
                row.password_hash = new_hash
            if disabled is not None:
                row.disabled = disabled
            return _user(row)
