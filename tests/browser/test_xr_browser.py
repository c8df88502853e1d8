"""The WebXR viewer in headless Chromium against the running app: it draws the model, keeps pins (labels as
text) across reloads, answers 404 for unknown scenes, enters VR under Meta's emulator (iwer, Quest 3) and drops a
pin with the emulated controller's laser; the Reconstruct page's "Open in VR" leads to it."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage.draw import ellipsoid

from core.export.gltf import MAX_GLB_BYTES, MAX_TRIANGLES, mesh_to_glb
from core.reconstruct.surface import surface
from core.types import Volume
from tests.browser.conftest import ARTIFACTS
from tests.conftest import REPO_ROOT, skip_unless_ci

pytestmark = pytest.mark.browser
TIMEOUT_MS = 120_000
IWER = REPO_ROOT / "viewer" / "node_modules" / "iwer" / "build" / "iwer.min.js"
STAGE_CENTRE = {"x": (1280 - 320) // 2, "y": 400}  # the model's middle: the page's side panel is 320 px wide


@pytest.fixture(scope="module")
def scene_id(app_scenes) -> str:
    """A scene in the app's own database."""
    body = ellipsoid(30, 22.5, 50)  # semi-axes along (x, y, z) in voxels of 2 mm: 60, 45, 100 mm, a lung-sized blob
    mask = Volume(data=np.transpose(body, (2, 1, 0)), spacing_mm=(2.0, 2.0, 2.0), unit="mask")
    return app_scenes.create(mesh_to_glb(surface(mask)), title="Test ellipsoid").id


def _model_share(png: bytes) -> float:
    """Share of the canvas's pixels that differ from its uniform background."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    background = rgb[2, 2]
    return float((np.abs(rgb - background).sum(axis=-1) > 30).mean())


def _open(context, url: str):
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=TIMEOUT_MS)
    return page, errors


def test_the_viewer_draws_the_model_under_its_own_security_policy(app_url, browser, scene_id):
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # the page's CSP in force
    page, errors = _open(context, f"{app_url}/xr/{scene_id}")
    canvas = page.locator("#stage canvas").first
    page.wait_for_timeout(300)
    share = _model_share(canvas.screenshot())
    page.screenshot(path=str(ARTIFACTS / "xr_viewer.png"))
    assert 0.05 < share < 0.9, f"the canvas shows no model ({share:.1%} of its pixels differ from the background)"
    assert "Test ellipsoid" in page.title()
    assert "12 × 20 × 9 cm" in page.inner_text("#status")  # metres in the file, life-size on screen
    assert page.get_by_role("button", name="VR NOT SUPPORTED").count() == 1  # a desktop Chromium has no headset
    assert errors == []
    context.close()


def test_a_pin_dropped_in_the_viewer_survives_a_reload_and_its_label_stays_text(app_url, browser, scene_id, app_scenes):
    label = "<img src=x onerror=alert(1)><script>alert(2)</script> right base"
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)  # injection would run
    page, _ = _open(context, f"{app_url}/xr/{scene_id}")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.fill("#pin-label", label)
    page.click("#pin-mode")
    page.mouse.click(**STAGE_CENTRE)
    page.locator("#pins li").first.wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "xr_viewer_pin.png"))
    page.reload()
    page.wait_for_selector("body[data-state=ready]", timeout=TIMEOUT_MS)
    page.locator("#pins li").first.wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#pins li .label").all_inner_texts() == [label]
    assert page.locator("#pins img, #pins script").count() == 0 and dialogs == []
    stored = app_scenes.annotations(scene_id)
    assert [a.label for a in stored] == [label]
    # Renamed on the page (as after a pin dropped in a headset with a preset label): kept on the server.
    page.get_by_role("button", name="Rename this pin").click()
    page.get_by_role("textbox", name="New label").fill("consolidation, <b>right</b> base")
    page.keyboard.press("Enter")
    page.get_by_text('Pin renamed "consolidation, <b>right</b> base".').wait_for(timeout=TIMEOUT_MS)
    assert page.locator("#pins li .label").all_inner_texts() == ["consolidation, <b>right</b> base"]
    assert [a.label for a in app_scenes.annotations(scene_id)] == ["consolidation, <b>right</b> base"]
    assert abs(stored[0].position[2] - 0.045) < 0.01  # on the front of the blob (45 mm semi-axis towards the viewer)
    where = page.locator("#pins li .where").inner_text()  # in the patient's directions, from the model's centre
    assert where.endswith("of the model's centre") and f"{round(stored[0].position[2] * 1000)} mm A" in where
    assert page.evaluate("window.xrViewer.markers") == ["R", "L", "A", "P", "S"]
    context.close()


def test_the_cut_hides_the_part_of_the_model_beyond_it(app_url, browser, scene_id):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page, errors = _open(context, f"{app_url}/xr/{scene_id}")
    canvas = page.locator("#stage canvas").first
    whole = _model_share(canvas.screenshot())
    page.select_option("#cut-axis", "1")  # head to feet: keeps the lower half at position 0
    page.check("#cut-on")
    page.wait_for_timeout(300)
    half = _model_share(canvas.screenshot())
    page.screenshot(path=str(ARTIFACTS / "xr_viewer_cut.png"))
    assert 0.3 * whole < half < 0.7 * whole and errors == []
    context.close()


def test_unknown_scenes_are_404(app_url, page):
    response = page.goto(f"{app_url}/xr/{'0' * 32}")
    assert response.status == 404 and page.get_by_text("Scene not found").count() == 1
    assert page.request.get(f"{app_url}/api/scenes/{'0' * 32}/annotations").status == 404


def test_enter_vr_on_an_emulated_quest_3_and_drop_a_pin_with_the_laser(app_url, browser, scene_id, app_scenes):
    if not IWER.is_file():
        skip_unless_ci("Meta's WebXR emulator is not installed: run `npm ci --prefix viewer`")
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
    context.add_init_script(path=str(IWER))
    context.add_init_script("window.xrDevice = new IWER.XRDevice(IWER.metaQuest3);"
                            "window.xrDevice.installRuntime({ forceInstall: true });")  # fmt: skip
    page, errors = _open(context, f"{app_url}/xr/{scene_id}")
    before = len(app_scenes.annotations(scene_id))
    page.get_by_role("button", name="ENTER VR").click()
    page.wait_for_function("window.xrViewer.xrFrames > 30", timeout=TIMEOUT_MS)

    def hold(hand: str, action: str, frames: int = 3, seconds: float = 0.0) -> None:
        """Act on an emulated controller, then let the viewer render ``frames`` frames (and ``seconds`` pass): input
        is read once per frame, and a loaded machine renders few of them."""
        first = page.evaluate("window.xrViewer.xrFrames")
        page.evaluate(f"() => window.xrDevice.controllers.{hand}.{action}")
        page.wait_for_function(f"window.xrViewer.xrFrames >= {first + frames}", timeout=TIMEOUT_MS)
        page.wait_for_timeout(int(seconds * 1000))

    # The right hand at the model's height, pointing straight ahead (-Z) at its middle; pull the trigger.
    hold("right", "position.set(0, 1.3, 0)")
    hold("right", "quaternion.set(0, 0, 0, 1)")
    hold("right", "updateButtonValue('trigger', 1)")
    hold("right", "updateButtonValue('trigger', 0)")
    page.wait_for_function(f"window.xrViewer.pins > {before}", timeout=TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "xr_viewer_vr.png"))
    pins = app_scenes.annotations(scene_id)
    assert len(pins) == before + 1 and pins[-1].label == "Look here"  # the first preset label

    # Right stick forward: the model grows. Left X: the cut is on; left stick back: it moves.
    hold("right", "updateAxes('thumbstick', 0, -1)", seconds=0.4)
    hold("right", "updateAxes('thumbstick', 0, 0)")
    assert page.evaluate("window.xrViewer.scale") > 1.2
    hold("left", "updateButtonValue('x-button', 1)")
    hold("left", "updateButtonValue('x-button', 0)")
    hold("left", "updateAxes('thumbstick', 0, 1)", seconds=0.4)
    hold("left", "updateAxes('thumbstick', 0, 0)")
    cut = page.evaluate("window.xrViewer.cut")
    assert cut["enabled"] and cut["position"] < -0.1
    # Squeeze, move the hand 20 cm to the right, let go: the model went with it.
    start = page.evaluate("window.xrViewer.modelAt")
    hold("right", "updateButtonValue('squeeze', 1)")
    hold("right", "position.set(0.2, 1.3, 0)")
    hold("right", "updateButtonValue('squeeze', 0)")
    moved = page.evaluate("window.xrViewer.modelAt")
    assert abs(moved[0] - start[0] - 0.2) < 0.02 and abs(moved[1] - start[1]) < 0.02
    # Both hands squeeze 40 cm apart and part to 60 cm: the model grows by half.
    scale = page.evaluate("window.xrViewer.scale")
    hold("left", "position.set(-0.2, 1.3, 0)")
    hold("right", "updateButtonValue('squeeze', 1)")
    hold("left", "updateButtonValue('squeeze', 1)")
    hold("left", "position.set(-0.4, 1.3, 0)")
    hold("left", "updateButtonValue('squeeze', 0)")
    hold("right", "updateButtonValue('squeeze', 0)")
    assert page.evaluate("window.xrViewer.scale") == pytest.approx(1.5 * scale, rel=0.05)
    page.screenshot(path=str(ARTIFACTS / "xr_viewer_vr_cut.png"))
    assert page.evaluate("window.xrViewer.xrFrames") > 30 and errors == []
    context.close()


def test_open_in_vr_from_the_reconstruct_page(app_url, page, browser):
    page.set_viewport_size({"width": 1400, "height": 2200})
    page.goto(f"{app_url}/reconstruct")
    page.get_by_role("button", name="Open in VR").click(timeout=TIMEOUT_MS * 2)
    page.get_by_text("Scan with the headset").wait_for(timeout=TIMEOUT_MS)
    link = page.locator("code").filter(has_text="/xr/").inner_text().strip()
    page.screenshot(path=str(ARTIFACTS / "reconstruct_open_in_vr.png"), full_page=True)
    assert link.startswith(app_url) and page.get_by_role("link", name="Open the viewer").count() == 1
    viewer, errors = _open(page.context, link)
    assert viewer.title().startswith("Lungs: tomography") and errors == []


def test_the_xr_benchmark_exports_valid_scenes_and_times_the_viewer(tmp_path):
    result = subprocess.run([sys.executable, "-m", "core", "xr-bench", "--out", str(tmp_path), "--json",
                             "--repeats", "1"], capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(result.stdout)
    assert [r["scene"] for r in rows] == ["lungs-ct", "intensity-relief", "gradcam-relief"]
    for row in rows:
        assert set(row) >= {"scene", "glb", "bytes", "triangles", "load_ms"}
        assert 0 < row["triangles"] <= MAX_TRIANGLES and row["bytes"] <= MAX_GLB_BYTES and row["load_ms"] > 0
    validator = subprocess.run(["node", str(REPO_ROOT / "viewer" / "validate-glb.mjs"), *(r["glb"] for r in rows)],
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    reports = [json.loads(line) for line in validator.stdout.splitlines()]
    assert validator.returncode == 0 and [r["errors"] for r in reports] == [0, 0, 0], reports
