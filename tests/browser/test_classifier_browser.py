"""The Classifier page in a real browser: the default model's figures, curves and confusion matrix."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 90_000


def test_classifier_page_shows_figures_and_training_curves(app_url, page):
    page.goto(f"{app_url}/classifier")
    page.get_by_text(re.compile(r"^Training curves")).wait_for(timeout=TIMEOUT_MS)  # "(member 1 of 3...)" if several
    page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stMetric"]').count() == 5
    assert page.get_by_text("Test split, n = 624").count() == 1
    # Two curves (training, validation) on each of the two panels.
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() == 4
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "classifier_page.png"), full_page=True)
