"""Page tests run the app in this process, test after test: each starts like a fresh server on its own data folder,
in single-user mode unless the test is about accounts (:func:`accounts`)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO_ROOT

TIMEOUT_S = 120  # first runs import OpenCV, scikit-image and Plotly


def open_page(page: str) -> AppTest:
    """Open ``page`` the way a user does: through the router (``app.py``), which sets up navigation."""
    app = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=TIMEOUT_S)
    app.run()
    if page != "app.py":
        app.switch_page(page).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


@pytest.fixture(autouse=True)
def _fresh_stores(monkeypatch):
    """The stores the app opens once per server process, reopened on this test's data folder (``XRAY_HOME``); single-
    user mode (the pages' own behaviour is tested; sign-in has its own tests)."""
    from ui.admin import job_runner
    from ui.auth import _delays, audit_trail, user_store
    from ui.models import model_registry, prediction_store
    from ui.xr import scene_store

    monkeypatch.setenv("XRAY_SINGLE_USER", "1")
    for opened in (job_runner, model_registry, prediction_store, scene_store, _delays, audit_trail, user_store):
        opened.clear()


@pytest.fixture
def accounts(monkeypatch):
    """Accounts mode with an admin and two doctors (passwords: their names repeated, e.g. "doctor-adoctor-a")."""
    from core.store.users import UserStore

    monkeypatch.delenv("XRAY_SINGLE_USER", raising=False)
    users = UserStore()
    for name, role in (("admin", "admin"), ("doctor-a", "doctor"), ("doctor-b", "doctor")):
        users.add(name, role=role, password=name * 2 if len(name) >= 8 else name * 3)
    return users
