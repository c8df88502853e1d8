"""Who is using the app: sign-in, sign-out, roles, single-user mode, and the audit trail's writer.

Every page but Home needs a signed-in account: the router (:func:`ui.navigation.run_router`) shows the sign-in form
instead of the page, so no page can forget, and a direct URL or a query parameter changes nothing. Admin pages call
:func:`require_admin` as well (doctors do not even see them in the navigation).

Two ways in: an account's name and password (scrypt, checked in constant time, one attempt per account at a time,
each slower after failures on that account from any address: :class:`core.auth.FailureDelay`), or, where Streamlit's
OIDC login is configured (an ``[auth]`` section in the secrets), single sign-on with an e-mail address that an
account carries. A sign-in lasts as long as the browser tab's session (a reload asks again); a disabled account is
signed out at its next click.

**Single-user mode** (``XRAY_SINGLE_USER=1``), for one person on a laptop: no sign-in, everything is done as the
admin ``local``, and the sidebar says so. It serves only the machine it runs on: a browser from another address is
refused.
"""

from __future__ import annotations

import ipaddress
import logging
import os

import streamlit as st

from core.auth import FailureDelay
from core.errors import CoreError
from core.store.audit import AuditTrail
from core.store.sign_in import SignInLedger
from core.store.users import User, UserStore

SINGLE_USER = User(name="local", role="admin")  # the one user of single-user mode
_SESSION_KEY = "signed_in_as"  # the account's name, in the browser tab's session
_log = logging.getLogger(__name__)


def single_user_mode() -> bool:
    """Whether ``XRAY_SINGLE_USER`` asks for single-user mode (1, true, yes or on)."""
    return os.environ.get("XRAY_SINGLE_USER", "").strip().lower() in ("1", "true", "yes", "on")


def _secret(name: str):
    try:
        return st.secrets.get(name)
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return None


@st.cache_resource(show_spinner=False)
def user_store() -> UserStore:
    """The accounts (the project's database), opened once per server process."""
    return UserStore()


@st.cache_resource(show_spinner=False)
def audit_trail() -> AuditTrail:
    """The audit trail (the project's database), opened once per server process."""
    return AuditTrail()


@st.cache_resource
def _delays() -> FailureDelay:
    """The failures per account, counted in the database every server shares (in this process alone while it cannot
    be opened)."""
    try:
        return FailureDelay(shared=SignInLedger())
    except CoreError:
        return FailureDelay()


def audit(action: str, target: object = "", detail: str = "", *, actor: str | None = None, once: bool = False) -> None:
    """Append a row to the audit trail as the signed-in user (or ``actor``); with ``once``, only the first time in
    this browser session (a record viewed, then the page rerun by a slider, is one view). A trail that cannot be
    written is said on the page and logged; the action has happened, and the page goes on."""
    if once:
        seen = st.session_state.setdefault("_audited", set())
        if (action, str(target)) in seen:
            return
        seen.add((action, str(target)))
    if actor is None:
        user = current_user()
        actor = user.name if user is not None else "visitor"
    try:
        audit_trail().record(actor, action, target, detail)
    except CoreError as error:
        _log.error("audit trail not written (%s by %s on %s): %s", action, actor, target, error)
        st.warning(f"This action could not be written to the audit trail: {error}")


def _oidc_email() -> str | None:
    """The e-mail address signed in by single sign-on, where it is configured and used."""
    if _secret("auth") is None or not getattr(st.user, "is_logged_in", False):
        return None
    return str(st.user.get("email", "") or "") or None


def current_user() -> User | None:
    """The signed-in account (``None`` for a visitor): single-user mode's ``local``, the account signed in with a
    password in this session, or the account whose e-mail address single sign-on gave."""
    if single_user_mode():
        return SINGLE_USER
    try:
        name = st.session_state.get(_SESSION_KEY)
        if name is not None:
            user = user_store().get(name)
            if user is not None and not user.disabled:
                return user
            st.session_state.pop(_SESSION_KEY, None)  # disabled meanwhile: signed out
        email = _oidc_email()
        if email is not None:
            user = user_store().by_email(email)
            if user is not None:
                if st.session_state.get("_oidc_audited") != user.name:
                    st.session_state["_oidc_audited"] = user.name
                    audit("sign-in", actor=user.name, detail="single sign-on")
                return user
    except CoreError as error:
        st.error(f"Accounts cannot be read: {error}")
    return None


def _loopback(address: object) -> bool:
    """Whether a client's address is this machine (Streamlit gives ``None`` for loopback connections)."""
    if not address or not isinstance(address, str):
        return True
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)  # a server on both stacks sees 127.0.0.1 as ::ffff:127.0.0.1
    return (mapped or parsed).is_loopback


def refuse_remote_single_user() -> None:
    """In single-user mode, stop a page opened from another machine with a sentence (and no menu)."""
    if single_user_mode() and not _loopback(st.context.ip_address):
        st.navigation([st.Page("pages/home.py", title="Home", default=True)], position="hidden")
        st.error("This workstation runs in single-user mode, which serves only the computer it runs on. Ask its "
                 "owner to set up accounts (see the README) to use it from elsewhere.")  # fmt: skip
        st.stop()


def account_sidebar(user: User | None) -> None:
    """Who is signed in, and the sign-out button; single-user mode says what it is."""
    if single_user_mode():
        st.sidebar.info("**Single-user mode**: no sign-in, every record on this computer is yours. Not for a "
                        "shared server (see the README).", icon=":material/person:")  # fmt: skip
        return
    if user is None:
        return
    st.sidebar.caption(f"Signed in as **{user.name}** ({user.role})")
    if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
        audit("sign-out")
        st.session_state.clear()  # nothing of this user's work (uploads, links, choices) is left for the next
        if getattr(st.user, "is_logged_in", False):
            st.logout()
        st.rerun()


def sign_in_form() -> None:
    """The sign-in form, in place of the page; stops the page."""
    st.subheader("Sign in")
    st.caption("Every page but Home needs an account: records and scenes are kept per person. A sign-in lasts while "
               "this browser tab is open; a reload or a new tab asks again.")  # fmt: skip
    try:
        accounts = user_store().count()
    except CoreError as error:
        st.error(f"Accounts cannot be read: {error}")
        st.stop()
    oidc = _secret("auth") is not None
    if accounts == 0:
        st.info(
            "No account exists yet. On the server, create the first admin with `python -m core add-user NAME "
            "--admin`. On a laptop used by one person, start the app in single-user mode instead: "
            "`XRAY_SINGLE_USER=1 streamlit run app.py`."
        )
    email = _oidc_email()
    if email is not None:
        st.warning(f"Signed in by single sign-on as {email}, which no account here carries: ask an admin to add it.")
        if st.button("Sign out of single sign-on", key="oidc_sign_out"):
            st.logout()
    elif oidc and st.button("Sign in with single sign-on", key="oidc_sign_in"):
        st.login()
    if accounts:
        with st.form("sign_in", clear_on_submit=True):  # the password is not kept in the session
            name = st.text_input("Account", key="sign_in_name", max_chars=64)
            password = st.text_input("Password", type="password", key="sign_in_password", max_chars=256)
            submitted = st.form_submit_button("Sign in")
        if submitted:
            _check(name, password)
    st.stop()


def _check(name: str, password: str) -> None:
    """Check a password; sign in and rerun, or say why not. Both outcomes are audited."""
    key = name.strip().lower()
    try:
        stored = user_store().password_hash(key)
        with st.spinner("Checking the password…"):
            ok = _delays().check(key[:64] or "-", password, stored)
        known = ok or user_store().get(key) is not None
    except CoreError as error:
        st.error(str(error))
        return
    if ok:
        st.session_state.clear()  # a session starts clean for its user
        st.session_state[_SESSION_KEY] = key
        audit("sign-in", actor=key)
        st.rerun()
    audit("sign-in-failed", actor=key if known else "unknown account")  # what was typed may be a password
    st.error("Wrong account or password. Each failed attempt slows the next ones on that account, from any address.")


def require_admin() -> User:
    """The signed-in admin; for anyone else, a sentence and the page stops."""
    user = current_user()
    if user is None or not user.is_admin:
        st.error("This page is for admins.")
        st.stop()
    return user


def require_user() -> User:
    """The signed-in account (the router has already stopped visitors)."""
    user = current_user()
    if user is None:
        sign_in_form()
    return user
