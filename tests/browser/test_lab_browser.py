"""The preprocessing lab in a real browser: upload a full-size X-ray, move a control, see the result and surface."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.browser
TIMEOUT_MS = 90_000


def test_upload_move_a_control_and_see_the_result_and_3d_surface(app_url, page, fullres_paths):
    upload = next(p for p in fullres_paths if p.name == "NORMAL2-IM-1104-0001.jpeg")  # 2268×1959 px, 1 MB
    # A deep link as the server's first request: Streamlit would run the page without the router (see
    # ui/navigation.py); the page must still come with its navigation and the research notice.
    page.goto(f"{app_url}/preprocessing_lab")
    page.get_by_role("slider").first.wait_for(timeout=TIMEOUT_MS)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("not a medical device").count() == 1
    assert sidebar.get_by_role("link", name="Preprocessing lab").count() == 1
    assert page.url.endswith("/preprocessing_lab")

    page.locator('input[type="file"]').set_input_files(str(upload))
    page.get_by_text(f"{upload.name} · JPEG · L 8-bit · 2268×1959 px").wait_for(timeout=TIMEOUT_MS)

    clip = page.get_by_role("slider").nth(1)  # CLAHE clip limit, 2.00 by default, step 0.5
    assert clip.get_attribute("aria-valuetext") == "2.00"
    clip.focus()
    clip.press("ArrowRight")
    clip.press("ArrowRight")
    page.get_by_text("CLAHE (clip 3, 8×8 tiles)").first.wait_for(timeout=TIMEOUT_MS)
    after = page.locator('[data-testid="stImage"]')
    assert after.count() >= 2  # before and after
    page.screenshot(path=str(ARTIFACTS / "lab_before_after.png"), full_page=True)

    page.get_by_role("tab", name="3D intensity surface").click()
    surface = page.locator(".js-plotly-plot .gl-container canvas, .js-plotly-plot canvas").first
    surface.wait_for(timeout=TIMEOUT_MS)
    surface.scroll_into_view_if_needed()
    page.wait_for_timeout(3000)  # let WebGL draw before the screenshot
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "lab_surface.png"))
