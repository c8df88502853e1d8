"""The retention job: every server deletes the records and scenes past ``XRAY_RETENTION_DAYS`` at start and then
once an hour (:func:`core.store.retention.apply_retention`), in a thread of its own."""

from __future__ import annotations

import logging
import threading

import streamlit as st

from core.errors import CoreError
from core.store.retention import apply_retention, retention_days

EVERY_S = 3600.0
_log = logging.getLogger(__name__)


def _keep(stop: threading.Event) -> None:
    while True:
        try:
            deleted = apply_retention(retention_days())
            if deleted.records or deleted.scenes:
                _log.info("retention: deleted %s", deleted)
        except CoreError as error:  # a bad setting or an unreachable database: said in the log, tried again later
            _log.error("retention not applied: %s", error)
        if stop.wait(EVERY_S):
            return


@st.cache_resource(show_spinner=False)
def retention_keeper() -> threading.Event:
    """Start the server's retention thread (once per process); set the event it returns to stop it."""
    stop = threading.Event()
    threading.Thread(target=_keep, args=(stop,), name="retention", daemon=True).start()
    return stop
