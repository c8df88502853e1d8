"""The admin gate: every admin page calls :func:`require_admin` first, so opening its URL directly changes nothing.

Two ways in: a password whose scrypt hash is in ``XRAY_ADMIN_PASSWORD_HASH`` or in the secrets as
``admin_password_hash`` (checked in constant time, one attempt at a time, each slower after failures on the admin
account from any address: :class:`core.auth.FailureDelay`); or, where
Streamlit's OIDC login is configured (an ``[auth]`` section in the secrets), signing in with an e-mail address listed
in the secrets' ``admin_emails``.
"""

from __future__ import annotations

import os

import streamlit as st

from core.auth import FailureDelay
from core.errors import CoreError
from core.store.sign_in import SignInLedger

_SESSION_KEY = "admin_signed_in"
_ACCOUNT = "admin"  # the one admin account: failures are counted on it, whichever address they come from


def _secret(name: str):
    try:
        return st.secrets.get(name)
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return None


def admin_password_hash() -> str | None:
    """The configured hash, environment first."""
    return os.environ.get("XRAY_ADMIN_PASSWORD_HASH") or _secret("admin_password_hash")


@st.cache_resource
def _delays() -> FailureDelay:
    """The failures on the admin account, counted in the database every server shares (in this process alone while
    it cannot be opened)."""
    try:
        return FailureDelay(shared=SignInLedger())
    except CoreError:
        return FailureDelay()


def _oidc_admin() -> bool:
    if _secret("auth") is None:
        return False
    admins = {str(e).lower() for e in (_secret("admin_emails") or [])}
    return bool(getattr(st.user, "is_logged_in", False)) and str(st.user.get("email", "")).lower() in admins


def require_admin() -> None:
    """Show the sign-in form and stop the page unless this session is signed in as an admin."""
    if st.session_state.get(_SESSION_KEY) or _oidc_admin():
        if st.sidebar.button("Sign out (admin)", key="admin_sign_out", icon=":material/logout:"):
            st.session_state.pop(_SESSION_KEY, None)
            if getattr(st.user, "is_logged_in", False):
                st.logout()
            st.rerun()
        return
    st.subheader("Admin sign-in")
    stored = admin_password_hash()
    if stored is None and _secret("auth") is None:
        st.error(
            "Admin pages are locked: no admin password is configured. Create a hash with `python -m core "
            "hash-password` and set it as XRAY_ADMIN_PASSWORD_HASH (or admin_password_hash in "
            ".streamlit/secrets.toml), then restart the app."
        )
        st.stop()
    if _secret("auth") is not None and st.button("Sign in with single sign-on", key="admin_oidc"):
        st.login()
    if stored is not None:
        with st.form("admin_sign_in"):
            password = st.text_input("Admin password", type="password", key="admin_password")
            submitted = st.form_submit_button("Sign in")
        if submitted:
            try:
                with st.spinner("Checking the password…"):
                    ok = _delays().check(_ACCOUNT, password, stored)
            except CoreError as error:
                st.error(str(error))
                st.stop()
            if ok:
                st.session_state[_SESSION_KEY] = True
                st.rerun()
            st.error("Wrong password. Each failed attempt slows the next ones on this account, from any address.")
    st.stop()
