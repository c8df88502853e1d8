"""Page tests run the app in this process, test after test: each starts like a fresh server on its own data folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_stores():
    """The stores the app opens once per server process, reopened on this test's data folder (``XRAY_HOME``)."""
    from ui.admin import job_runner
    from ui.auth import _delays
    from ui.models import model_registry, prediction_store
    from ui.xr import scene_store

    for opened in (job_runner, model_registry, prediction_store, scene_store, _delays):
        opened.clear()
