"""Accounts and audit (admins): the accounts and their roles, the audit trail (filtered, exported), retention and
purging."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.errors import CoreError
from core.store.audit import ACTIONS
from core.store.retention import delete_records, retention_days
from core.store.users import ROLES
from ui.auth import audit, audit_trail, require_admin, user_store
from ui.navigation import page_setup

page_setup()
admin = require_admin()

st.title("Accounts and audit")
if added_message := st.session_state.pop("accounts_added", None):
    st.success(added_message)
try:
    users = user_store().all()
except CoreError as error:
    st.error(f"The accounts cannot be read. {error}")
    st.stop()

# ---- Accounts ----------------------------------------------------------------------------------------------------
st.subheader("Accounts")
st.dataframe(
    pd.DataFrame([{"Account": u.name, "Role": u.role, "E-mail (single sign-on)": u.email or "",
                   "Added (UTC)": u.created.strftime("%Y-%m-%d"), "Disabled": u.disabled} for u in users]),
    hide_index=True, key="accounts_table",
)  # fmt: skip
add, change = st.columns(2, gap="large")
with add.form("accounts_add", clear_on_submit=True):
    st.markdown("**Add an account**")
    name = st.text_input("Account name", max_chars=64, key="accounts_add_name")
    role = st.selectbox("Role", ROLES, key="accounts_add_role")
    password = st.text_input("Password (at least 8 characters)", type="password", key="accounts_add_password")
    email = st.text_input("E-mail for single sign-on (optional)", key="accounts_add_email")
    if st.form_submit_button("Add"):
        try:
            added = user_store().add(name, role=role, password=password or None, email=email or None)
        except CoreError as error:
            st.error(str(error))
        else:
            audit("add-user", added.name, f"role {added.role}")
            st.session_state["accounts_added"] = f"Added {added.role} '{added.name}'."
            st.rerun()  # the tables above list it
with change:
    st.markdown("**Change an account**")
    chosen = st.selectbox("Account", users, format_func=lambda u: f"{u.name} ({u.role})", key="accounts_change")
    new_role = st.selectbox("Role", ROLES, index=ROLES.index(chosen.role), key=f"accounts_role_{chosen.name}")
    disabled = st.toggle("Disabled (cannot sign in; records kept)", value=chosen.disabled,
                         key=f"accounts_disabled_{chosen.name}")  # fmt: skip
    saves = st.session_state.setdefault("accounts_saves", 0)  # a new field after each save: no password kept
    new_password = st.text_input("New password (blank: unchanged)", type="password",
                                 key=f"accounts_password_{chosen.name}_{saves}")  # fmt: skip
    if st.button("Save", key="accounts_save"):
        try:
            user_store().update(chosen.name, role=new_role, disabled=disabled, password=new_password or None)
        except CoreError as error:
            st.error(str(error))
        else:
            audit("change-user", chosen.name, f"role {new_role}, disabled {disabled}"
                  + (", password changed" if new_password else ""))  # fmt: skip
            st.session_state["accounts_saves"] = saves + 1
            st.rerun()

# ---- Audit trail -------------------------------------------------------------------------------------------------
st.subheader("Audit trail")
st.caption("Who did what, when. Append-only: the database refuses to change or delete a row, so it is never purged.")
who, what, when = st.columns([1, 2, 1.4])
actor = who.selectbox("Account", [None, *(u.name for u in users), "app", "link", "command line", "unknown account"],
                      format_func=lambda a: "everyone" if a is None else a, key="audit_actor")  # fmt: skip
actions = what.multiselect("Actions", list(ACTIONS), format_func=ACTIONS.get, key="audit_actions",
                           placeholder="every action")  # fmt: skip
today = dt.datetime.now(dt.UTC).date()
dates = when.date_input("Dates (UTC)", value=(today - dt.timedelta(days=30), today), max_value=today,
                        key="audit_dates")  # fmt: skip
since = until = None
if isinstance(dates, tuple | list) and len(dates) == 2:
    since = dt.datetime.combine(dates[0], dt.time(), tzinfo=dt.UTC)
    until = dt.datetime.combine(dates[1] + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
try:
    events = audit_trail().query(actor=actor, actions=actions or None, since=since, until=until)
except CoreError as error:
    st.error(f"The audit trail cannot be read. {error}")
    events = []
trail = pd.DataFrame([{"Time (UTC)": e.at.strftime("%Y-%m-%d %H:%M:%S"), "Account": e.actor, "Action": e.described,
                       "Target": e.target, "Detail": e.detail} for e in events],
                     columns=["Time (UTC)", "Account", "Action", "Target", "Detail"])  # fmt: skip
st.dataframe(trail, hide_index=True, key="audit_table")
st.download_button("Download the audit trail (CSV)", data=trail.to_csv(index=False).encode(), file_name="audit.csv",
                   mime="text/csv", key="audit_csv",
                   on_click=lambda: audit("export-audit", f"{len(trail)} rows"))  # fmt: skip

# ---- Retention and purging ---------------------------------------------------------------------------------------
st.subheader("Retention and purging")
try:
    days = retention_days()
    st.caption(f"The app deletes records (with their kept images) and scenes older than {days} days by itself, once an "
               "hour (XRAY_RETENTION_DAYS)." if days else "Retention is off (XRAY_RETENTION_DAYS=off): records and "
               "scenes are kept until deleted here or on History.")  # fmt: skip
except CoreError as error:
    st.error(str(error))
purge_before = st.date_input("Purge everything made before (UTC)", value=today - dt.timedelta(days=90),
                             max_value=today, key="purge_before")  # fmt: skip
purge_owner = st.selectbox("Of", [None, *(u.name for u in users)], key="purge_owner",
                           format_func=lambda a: "every account" if a is None else a)  # fmt: skip
if st.button("Purge…", key="purge"):
    st.session_state["purge_pending"] = (purge_before, purge_owner)
if st.session_state.get("purge_pending") == (purge_before, purge_owner):
    with st.container(border=True, key="purge_box"):
        st.warning(f"Delete every record, kept image and scene made before {purge_before} by "
                   f"{purge_owner or 'every account'}, for good?")  # fmt: skip
        confirm, cancel = st.columns(2)
        if confirm.button("Confirm purge", key="purge_confirm", type="primary"):
            before = dt.datetime.combine(purge_before, dt.time(), tzinfo=dt.UTC)
            try:
                gone = delete_records(actor=admin.name, action="purge", owner=purge_owner, before=before,
                                      scenes_too=True, detail=f"made before {purge_before}")  # fmt: skip
            except CoreError as error:
                st.error(f"Nothing was purged: {error}")
            else:
                st.session_state.pop("purge_pending", None)
                st.success(f"Purged {gone}.")
        if cancel.button("Cancel", key="purge_cancel"):
            st.session_state.pop("purge_pending", None)
            st.rerun()
