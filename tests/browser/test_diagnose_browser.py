"""Diagnose in a real browser: upload two full-size X-rays, see verdicts and heat maps, find them in History."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 120_000
VIEWER = "iframe[title='ui.viewer.xray_viewer']"


def _colourfulness(png: bytes) -> float:
    """Mean spread between the RGB channels (0 for a grey image)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)
    return float((rgb.max(axis=-1) - rgb.min(axis=-1)).mean())


def test_two_uploads_get_verdicts_heat_maps_and_records(app_url, page, fullres_paths):
    normal = next(p for p in fullres_paths if p.parent.name == "NORMAL")
    pneumonia = next(p for p in fullres_paths if p.parent.name == "PNEUMONIA")
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.goto(f"{app_url}/diagnose")
    page.get_by_text("Upload one or several chest X-rays").wait_for(timeout=TIMEOUT_MS)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(normal), str(pneumonia)])
    page.get_by_text("2 of 2 images classified").wait_for(timeout=TIMEOUT_MS)
    viewers = page.locator(VIEWER)  # each film with its heat map, in the image viewer
    viewers.nth(1).wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Faithfulness:").nth(1).wait_for(timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)  # let the images finish painting

    verdicts = page.locator('[data-testid="stMetric"]').filter(has_text="Verdict")
    assert verdicts.count() == 2
    assert {verdicts.nth(i).locator('[data-testid="stMetricValue"]').inner_text() for i in range(2)} <= {
        "NORMAL", "PNEUMONIA", "Borderline"}  # fmt: skip
    assert page.get_by_text("Pneumonia score").count() >= 2  # the score, against the threshold
    for i in range(2):
        viewer = viewers.nth(i)
        viewer.element_handle().content_frame().wait_for_selector("body[data-state=ready]", state="attached",
                                                                  timeout=TIMEOUT_MS)  # fmt: skip
        viewer.scroll_into_view_if_needed()
        assert _colourfulness(viewer.screenshot()) > 20  # colours blended over the grey X-ray
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "diagnose_page.png"), full_page=True)

    page.goto(f"{app_url}/history")
    page.get_by_text("predictions ·").wait_for(timeout=TIMEOUT_MS)
    # The table is drawn on a canvas; its accessible grid cells carry the text. Files are recorded under pseudonyms.
    for path in (normal, pneumonia):
        page.get_by_text(f"image-{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}.jpeg").first.wait_for(
            state="attached", timeout=TIMEOUT_MS)  # fmt: skip
        assert page.get_by_text(path.name).count() == 0
    page.screenshot(path=str(ARTIFACTS / "history_page.png"), full_page=True)


def test_an_adult_film_is_flagged_as_unfamiliar_with_its_verdict_marked_unreliable(app_url, page, shared_data):
    adult = shared_data / "cxr_lung_masks" / "images" / "00870a9c.jpeg"  # flagged by the shipped model (test_ood)
    page.set_viewport_size({"width": 1400, "height": 1600})
    page.goto(f"{app_url}/diagnose")
    page.get_by_text("Upload one or several chest X-rays").wait_for(timeout=TIMEOUT_MS)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(adult)])
    page.get_by_text("1 of 1 images classified").wait_for(timeout=TIMEOUT_MS)
    page.get_by_text("Faithfulness:").first.wait_for(timeout=TIMEOUT_MS)
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="unlike the images the model learned from")
    assert alert.count() == 1 and "the verdict is unreliable" in alert.inner_text()
    verdict = page.locator('[data-testid="stMetric"]').filter(has_text="Verdict")
    assert verdict.locator('[data-testid="stMetricValue"]').inner_text() == "Unreliable"
    assert "unfamiliar image · reads" in verdict.inner_text()
    assert page.get_by_text("flagged above").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "diagnose_unfamiliar.png"), full_page=True)

    # the lung outline (on by default) is drawn on the heat map; turned off, the map changes only there
    assert page.get_by_text("Heat inside the lungs:").count() == 1
    heat_map = page.locator(VIEWER)
    heat_map.element_handle().content_frame().wait_for_selector("body[data-state=ready]", state="attached",
                                                                timeout=TIMEOUT_MS)  # fmt: skip
    heat_map.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    outlined = np.asarray(Image.open(io.BytesIO(heat_map.screenshot())).convert("RGB"), dtype=np.int16)
    page.locator('[data-testid="stSidebar"]').get_by_text("Lung outline").click()
    page.wait_for_timeout(2500)
    plain = np.asarray(Image.open(io.BytesIO(heat_map.screenshot())).convert("RGB"), dtype=np.int16)
    changed = np.abs(outlined - plain).max(axis=2) > 40
    assert outlined.shape == plain.shape and 0.002 < changed.mean() < 0.1  # a thin line, not a new image
    assert (outlined[changed].min(axis=1) > 150).mean() > 0.5  # what changed was white: the outline
