"""The WebXR viewer's benchmark (``python -m core xr-bench --out DIR --json``): the demo scenes exported as GLB
files, each opened in the viewer in headless Chromium, timed from navigation to the first frame with the model.

The demo scenes are the three kinds of 3D result the app exports: the lungs reconstructed from the demo CT
(filtered back-projection of 90 simulated views, coloured by the attenuation beneath the surface), the intensity
relief of a shipped sample X-ray, and the same relief coloured by the default classifier's Grad-CAM heat map.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from core.errors import CoreError
from core.export.gltf import glb_triangles, mesh_to_glb
from core.store.files import write_atomic

__all__ = ["demo_scenes", "run_xr_bench"]


def demo_scenes() -> dict[str, tuple[str, bytes]]:
    """``{name: (title, GLB bytes)}`` for the demo scenes (about 10 s on one core: the reconstruction and the
    heat map)."""
    from core.diagnose import Diagnoser
    from core.io import read_xray_file
    from core.reconstruct.modes import load_demo_ct, reconstruct_demo
    from core.reconstruct.surface import height_field, sample_values
    from core.samples import list_samples

    mu, truth = load_demo_ct()
    lungs = reconstruct_demo(mu, truth, mode="tomography", views=90)
    sample = next(s for s in list_samples() if s.label == "PNEUMONIA")
    xray = read_xray_file(sample.path)
    heat = Diagnoser().diagnose(xray, method="Grad-CAM", faithfulness=False).cam.heat
    return {
        "lungs-ct": ("Lungs from the demo CT (FBP, 90 views)",
                     mesh_to_glb(sample_values(lungs.mesh, lungs.volume), colourmap="bone")),
        "intensity-relief": ("Intensity relief of a sample X-ray",
                             mesh_to_glb(height_field(xray.pixels), colourmap="viridis", double_sided=True,
                                         patient_frame=False)),
        "gradcam-relief": ("Grad-CAM heat map on the intensity relief",
                           mesh_to_glb(height_field(xray.pixels, values=heat), colourmap="inferno", double_sided=True,
                                                         patient_frame=False)),
    }  # fmt: skip


def _serving(store) -> tuple[str, Callable[[], None]]:
    """The viewer's routes on a free loopback port, in a thread: (base URL, stop)."""
    import socket

    import uvicorn

    from core.xr.server import standalone_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(standalone_app(store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise CoreError("The viewer's server did not start.")
        time.sleep(0.05)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return f"http://127.0.0.1:{port}", stop


def run_xr_bench(out: str | Path, *, chromium: str = "/usr/bin/chromium", repeats: int = 3) -> list[dict]:
    """Export the demo scenes into ``out`` and time the viewer on each.

    Parameters
    ----------
    out : path
        Folder for the GLB files (created).
    chromium : str
        The browser (Debian's package; Playwright drives it).
    repeats : int
        Page loads per scene; ``load_ms`` is their median (a fresh browser context each time: nothing cached).

    Returns
    -------
    list of dict
        ``{"scene", "glb", "bytes", "triangles", "load_ms", "load_ms_all"}`` per scene.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise CoreError("xr-bench drives Chromium with Playwright: pip install -e '.[test]'.") from error
    if repeats < 1:
        raise CoreError(f"Load each scene at least once; got repeats={repeats}.")
    if not Path(chromium).exists():
        raise CoreError(f"No Chromium at {chromium}: install it (apt-get install -y chromium) or pass --chromium.")
    from core.store.scenes import SceneStore

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        store = SceneStore(f"sqlite:///{scratch}/bench.db")
        scenes = {}
        for name, (title, glb) in demo_scenes().items():
            path = write_atomic(out / f"{name}.glb", glb)
            scenes[name] = store.create(glb, title=title).id
            rows.append({"scene": name, "glb": str(path.resolve()), "bytes": len(glb), "triangles": glb_triangles(glb)})
        base, stop = _serving(store)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=["--use-angle=swiftshader"])
                for row in rows:
                    times = []
                    for _ in range(repeats):
                        # bypass_csp: Playwright's waiting runs script in the page, which the viewer's CSP forbids.
                        context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=True)
                        page = context.new_page()
                        page.goto(f"{base}/xr/{scenes[row['scene']]}")
                        page.wait_for_function("window.xrViewer && (window.xrViewer.ready || window.xrViewer.error)",
                                               timeout=60_000)  # fmt: skip
                        figures = page.evaluate("window.xrViewer")
                        if figures.get("error"):
                            raise CoreError(f"The viewer failed on {row['scene']}: {figures['error']}")
                        times.append(round(figures["firstFrameMs"], 1))
                        context.close()
                    row["load_ms"] = statistics.median(times)
                    row["load_ms_all"] = times
                browser.close()
        finally:
            stop()
    return rows
