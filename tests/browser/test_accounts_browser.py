"""Accounts in a real browser, on the app as shipped (sign-in needed): a visitor sees Home and the sign-in form only,
on every page URL; a doctor sees their own records and scenes, by any URL or query parameter, and no admin page."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, sign_in

pytestmark = pytest.mark.browser
TIMEOUT_MS = 120_000
GLB = b"glTF" + bytes(60)


@pytest.fixture(scope="module")
def planted(accounts_db):
    """A record and a scene for each doctor, in the app's database."""
    from core.store.predictions import PredictionStore
    from core.store.scenes import SceneStore
    from core.types import Prediction

    url = accounts_db
    prediction = Prediction(label="NORMAL", probabilities={"NORMAL": 0.9, "PNEUMONIA": 0.1}, threshold=0.5,
                            model="m.pt")  # fmt: skip
    for doctor, glb in (("doctor-a", GLB), ("doctor-b", GLB + b"\0\0\0\0")):
        PredictionStore(url).add(file_name=f"{doctor}-film.png", sha256="f" * 64, prediction=prediction,
                                 model_version="v1", owner=doctor)  # fmt: skip
        SceneStore(url).create(glb, title=f"{doctor} lungs", owner=doctor)


def _text(page, text: str) -> int:
    """How many elements hold ``text`` (dataframes draw on a canvas; their cells are in an attached, hidden table)."""
    return page.get_by_text(text, exact=False).count()


def test_a_visitor_sees_home_and_the_sign_in_form_only(accounts_url, page, planted):
    page.goto(accounts_url)
    page.get_by_role("heading", name="Chest X-ray workstation").wait_for(timeout=TIMEOUT_MS)
    for path in ("diagnose", "history?id=1", "train"):  # every page's URL: tests/pages/test_accounts.py
        page.goto(f"{accounts_url}/{path}")
        page.get_by_role("heading", name="Sign in").wait_for(timeout=TIMEOUT_MS)
        page.wait_for_timeout(500)
        assert _text(page, "doctor-a") == 0 and _text(page, "film") == 0, path
        assert page.locator('[data-testid="stFileUploader"]').count() == 0
        assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "sign_in.png"), full_page=True)


def test_each_doctor_sees_only_their_own_records_and_scenes(accounts_url, page, planted):
    page.set_viewport_size({"width": 1400, "height": 1200})
    for me, other in (("doctor-a", "doctor-b"), ("doctor-b", "doctor-a")):
        sign_in(page, f"{accounts_url}/history?owner={other}", me)  # a query parameter changes nothing
        page.get_by_role("heading", name="History").wait_for(timeout=TIMEOUT_MS)
        page.get_by_text(f"{me}-film.png").wait_for(state="attached", timeout=TIMEOUT_MS)
        assert _text(page, f"{other}-film") == 0
        assert page.get_by_role("link", name="Train (admin)").count() == 0  # no admin page in a doctor's menu
        if me == "doctor-b":
            break  # her scenes: as doctor-a's, below
        page.get_by_role("link", name="My scenes").click()
        page.get_by_text(f"{me} lungs").first.wait_for(state="attached", timeout=TIMEOUT_MS)
        assert _text(page, f"{other} lungs") == 0
        assert page.locator('[data-testid="stException"]').count() == 0
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / "my_scenes.png"), full_page=True)
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("heading", name="Sign in").wait_for(timeout=TIMEOUT_MS)
