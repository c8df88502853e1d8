"""The Reconstruct page in a real browser: the demo CT's lungs drawn in 3D (WebGL through stpyvista)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 180_000


def _surface_share(png: bytes) -> float:
    """Share of pixels in the lungs' flesh colour (the background is near-black)."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return float(((red > 90) & (red > blue + 25) & (green > 40)).mean())


def test_the_demo_lungs_are_drawn_in_3d(app_url, page):
    page.set_viewport_size({"width": 1400, "height": 1500})
    page.goto(f"{app_url}/reconstruct")
    page.get_by_text("Surface triangles").wait_for(timeout=TIMEOUT_MS)
    viewer = page.locator('[data-testid="stBidiComponentIsolated"]').first
    viewer.wait_for(timeout=TIMEOUT_MS)
    share = 0.0
    for _ in range(30):  # VTK.js draws after the scene arrives
        page.wait_for_timeout(1000)
        share = _surface_share(viewer.screenshot())
        if share > 0.08:
            break
    assert share > 0.08, f"the 3D view shows no surface ({share:.1%} of its pixels)"
    metrics = page.locator('[data-testid="stMetricValue"]')
    assert float(metrics.first.inner_text()) >= 0.95  # lung Dice, 90-view FBP
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "reconstruct_page.png"), full_page=True)
