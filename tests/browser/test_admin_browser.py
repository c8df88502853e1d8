"""Accounts in a real browser: a visitor sees the sign-in form only, each doctor their own records and scenes; an
admin signs in, starts a short training, watches its curves, finds it in the registry."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ACCOUNTS, ARTIFACTS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 240_000


def test_sign_in_train_and_see_the_model_in_the_registry(accounts_url, page, shared_data):
    page.set_viewport_size({"width": 1400, "height": 1900})
    page.goto(f"{accounts_url}/train")
    page.get_by_role("heading", name="Sign in").wait_for(timeout=TIMEOUT_MS)
    assert page.get_by_text("Start training").count() == 0  # nothing before signing in
    page.get_by_label("Account", exact=True).fill("admin")
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Wrong account or password").wait_for(timeout=TIMEOUT_MS)
    page.get_by_label("Account", exact=True).fill("admin")  # the form was cleared
    page.get_by_label("Password", exact=True).fill(ACCOUNTS["admin"][1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Start training").wait_for(timeout=TIMEOUT_MS)

    data = page.get_by_label("Data folder (train/ and test/, each with NORMAL/ and PNEUMONIA/)")
    data.fill(str(shared_data / "chest_xray"))
    data.press("Enter")
    page.get_by_text("PNEUMONIA share").wait_for(state="attached", timeout=TIMEOUT_MS)  # a canvas grid
    page.get_by_role("spinbutton", name="Epochs").fill("3")
    page.get_by_role("spinbutton", name="Training images per class").fill("16")
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("started").wait_for(timeout=TIMEOUT_MS)
    page.locator(".js-plotly-plot .scatterlayer .trace").first.wait_for(timeout=TIMEOUT_MS)  # live curves
    page.get_by_text("succeeded", exact=False).first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "train_page.png"), full_page=True)

    page.get_by_role("link", name="Models (admin)").click()
    page.get_by_text("ROC on the test split").wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("xraynet", exact=False).first.wait_for(state="attached", timeout=TIMEOUT_MS)
    assert page.get_by_text("Shipped default").count() >= 1
    assert page.get_by_text("job", exact=False).count() >= 1  # the new model's row
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "models_page.png"), full_page=True)
