"""The image viewer (cornerstone3D) in the running app: window/level by drag, zoom and pan, a length measured in mm
across a DICOM ruler of known length, R/L markers from the file, before/after kept in step in the lab, and the
Diagnose page readable at 1440, 820 and 390 px wide (screenshots in test-artifacts/)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser.conftest import ARTIFACTS
from tests.helpers import encode, make_dicom

pytestmark = [pytest.mark.browser, pytest.mark.viewer]
TIMEOUT_MS = 120_000
VIEWER = "iframe[title='ui.viewer.xray_viewer']"
SPACING_MM = 0.15  # make_dicom's pixel spacing
RULER_PX = (150, 750)  # two bright bars 600 px apart: 90.0 mm


def _ruler(tmp_path):
    stored = np.full((800, 1000), 600, dtype=np.uint16)
    stored[:, RULER_PX[0] - 2 : RULER_PX[0] + 3] = 4000
    stored[:, RULER_PX[1] - 2 : RULER_PX[1] + 3] = 4000
    stored[350:450, 200:700] = np.linspace(600, 3000, 500, dtype=np.uint16)  # a ramp: window/level shows on it
    path = tmp_path / "ruler.dcm"
    path.write_bytes(make_dicom(stored, tags={"PatientOrientation": ["L", "F"]}))
    return path


class Viewer:
    """One viewer frame on the page: its state, and image pixels as page coordinates."""

    def __init__(self, page, index: int = 0):
        self.page = page
        self.element = page.locator(VIEWER).nth(index)
        self.element.wait_for(timeout=TIMEOUT_MS)
        self.frame = self.element.element_handle().content_frame()
        self.frame.wait_for_selector("body[data-state=ready]", state="attached", timeout=TIMEOUT_MS)
        self.element.scroll_into_view_if_needed()
        self.page.wait_for_timeout(500)

    def state(self) -> dict:
        return self.frame.evaluate("window.xrayViewer.snapshot()")

    def at(self, pane: int, x: float, y: float) -> tuple[float, float]:
        box = self.element.bounding_box()
        cx, cy = self.frame.evaluate(f"window.xrayViewer.point({pane}, {x}, {y})")
        return box["x"] + cx, box["y"] + cy

    def drag(self, start, end, button="left") -> None:
        mouse = self.page.mouse
        mouse.move(*start)
        mouse.down(button=button)
        for step in range(1, 9):
            mouse.move(start[0] + (end[0] - start[0]) * step / 8, start[1] + (end[1] - start[1]) * step / 8)
            self.page.wait_for_timeout(30)
        mouse.up(button=button)
        self.page.wait_for_timeout(300)

    def click(self, name: str) -> None:
        self.frame.get_by_role("button", name=name, exact=True).click()


def _upload(page, app_url, where: str, files) -> None:
    page.goto(f"{app_url}/{where}")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').first.set_input_files([str(f) for f in files])


def test_window_level_zoom_pan_and_a_length_in_mm_on_a_dicom_ruler(app_url, page, tmp_path):
    page.set_viewport_size({"width": 1440, "height": 1100})
    _upload(page, app_url, "diagnose", [_ruler(tmp_path)])
    viewer = Viewer(page)
    assert viewer.frame.get_by_text("0.150 × 0.150 mm pixels").count() == 1
    marks = viewer.frame.locator(".mark")
    assert {marks.nth(i).inner_text() for i in range(marks.count())} == {"R", "L", "H", "F"}
    assert viewer.frame.locator(".mark.left").inner_text() == "R"  # rows run to the patient's left: R on the left

    # window/level: a drag to the right widens the window, down moves the level; the pixels change with it
    before, shot = viewer.state()["panes"][0], viewer.element.screenshot()
    centre = viewer.at(0, 500, 400)
    viewer.drag(centre, (centre[0] + 120, centre[1] + 80))
    after = viewer.state()["panes"][0]
    assert (after["lower"], after["upper"]) != (before["lower"], before["upper"])
    assert viewer.element.screenshot() != shot

    # a length across the ruler's two bars: 600 px × 0.15 mm = 90.0 mm, within 1 %
    viewer.click("Length")
    viewer.drag(viewer.at(0, RULER_PX[0], 200), viewer.at(0, RULER_PX[1], 200))
    [measured] = viewer.state()["measurements"]
    assert measured["unit"] == "mm" and measured["value"] == pytest.approx(90.0, rel=0.01)
    viewer.frame.get_by_text("Length: ").wait_for(timeout=10_000)  # listed under the image

    # zoom with the wheel, pan with the pan tool
    zoom = viewer.state()["panes"][0]["zoom"]
    page.mouse.move(*viewer.at(0, 500, 400))
    page.mouse.wheel(0, -600)
    page.wait_for_timeout(500)
    assert viewer.state()["panes"][0]["zoom"] > zoom * 1.05
    viewer.click("Pan")
    pan = viewer.state()["panes"][0]["pan"]
    start = viewer.at(0, 500, 400)
    viewer.drag(start, (start[0] + 60, start[1] + 40))
    assert viewer.state()["panes"][0]["pan"] != pan
    viewer.element.screenshot(path=str(ARTIFACTS / "viewer_ruler.png"))
    assert page.locator('[data-testid="stException"]').count() == 0


def test_the_lab_keeps_before_and_after_in_step_and_lengths_without_spacing_read_px(app_url, page, tmp_path):
    rng = np.random.default_rng(0)
    image = (np.tile(np.linspace(30, 220, 640), (480, 1)) + rng.normal(0, 5, (480, 640))).clip(0, 255)
    path = tmp_path / "film.png"
    path.write_bytes(encode(image.astype(np.uint8)))
    page.set_viewport_size({"width": 1440, "height": 1100})
    _upload(page, app_url, "preprocessing_lab", [path])
    viewer = Viewer(page)
    assert len(viewer.state()["panes"]) == 2
    assert viewer.frame.get_by_text("no pixel spacing in this file: lengths in px").count() == 2

    page.mouse.move(*viewer.at(0, 320, 240))
    page.mouse.wheel(0, -600)
    page.wait_for_timeout(500)
    left, right = viewer.state()["panes"]
    assert left["zoom"] > 1.05 and right["zoom"] == pytest.approx(left["zoom"], rel=1e-3)
    start = viewer.at(1, 320, 240)
    viewer.drag(start, (start[0] + 100, start[1] - 60))
    left, right = viewer.state()["panes"]
    assert (left["lower"], left["upper"]) == pytest.approx((right["lower"], right["upper"]))
    assert (left["lower"], left["upper"]) != (0, 255)
    viewer.click("Length")
    viewer.drag(viewer.at(0, 100, 100), viewer.at(0, 400, 100))
    [measured] = viewer.state()["measurements"]
    assert measured["unit"] == "px" and measured["value"] == pytest.approx(300, rel=0.01)
    viewer.element.screenshot(path=str(ARTIFACTS / "viewer_lab_compare.png"))


@pytest.mark.parametrize("width", [1440, 820, 390])
def test_diagnose_is_readable_at_desktop_tablet_and_phone_widths(app_url, page, fullres_paths, width):
    page.set_viewport_size({"width": width, "height": 1000})
    _upload(page, app_url, "diagnose", fullres_paths[:1])
    viewer = Viewer(page)
    card = page.locator(".st-key-card_0")
    for metric in card.locator('[data-testid="stMetricValue"]').all():  # nothing cut to "PNEU…"
        assert metric.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), metric.inner_text()
    reports = card.locator('[data-testid="stDownloadButton"] button').filter(has_text="Report (")
    assert reports.count() == 2
    for button in reports.all():  # "Report (PDF)", not "R…"
        assert button.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), button.inner_text()
    sidebar = page.locator('[data-testid="stSidebar"]').bounding_box()
    assert sidebar["x"] + sidebar["width"] <= 0.3 * width  # the page, not the settings, gets the screen
    frame_width = viewer.element.bounding_box()["width"]
    assert frame_width >= 0.75 * card.bounding_box()["width"]  # the image as wide as the card allows
    card.screenshot(path=str(ARTIFACTS / f"diagnose_card_{width}px.png"))
