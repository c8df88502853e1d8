"""Nothing leaves the machine: every page of the running app, the Reconstruct page's 3D view and the WebXR viewer it
links to make requests to the app's own (loopback) address only, and drawing a 3D view looks up no outside host on
the server either. A hospital network is often offline, and patient data must not trigger outside requests.

Causes found and removed: the page icon (a ``:material/...:`` icon is fetched from fonts.gstatic.com; now the app's
own SVG, inline) and PyVista's HTML export behind stpyvista (its throw-away trame server loaded trame-vtklocal, which
downloaded VTK's WebAssembly build from gitlab.kitware.com for every 3D view; see
:func:`ui.reconstruction.keep_vtk_wasm_offline`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import ARTIFACTS, app_log_name
from tests.conftest import REPO_ROOT
from ui.navigation import PAGES

TIMEOUT_MS = 180_000
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _outside(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme not in ("data", "blob", "about", "chrome", "chrome-extension") and (
        (parts.hostname or "") not in LOOPBACK
    )


def _page_paths() -> list[str]:
    """Every page's URL path, as Streamlit's navigation derives it (the default page is the root)."""
    return ["" if options.get("default") else path.removeprefix("pages/").removesuffix(".py")
            for path, options in PAGES.items()]  # fmt: skip


@pytest.mark.browser
def test_no_page_requests_anything_from_outside_the_machine(app_url, browser):
    # Playwright starts Chromium without its own background traffic (--disable-background-networking and the like)
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    visiting, outside = ["?"], []

    def watch(route, request):  # every request of every page, frame and worker in the context
        if _outside(request.url):
            outside.append(f"{visiting[0]}: {request.resource_type} {request.url[:160]}")
            route.abort("internetdisconnected")  # as on an offline network; nothing leaves during the test either
        else:
            route.continue_()

    context.route("**/*", watch)
    page = context.new_page()
    for path in _page_paths():
        if path == "reconstruct":
            continue  # visited below, with its 3D view and the viewer it links to
        visiting[0] = f"/{path}"
        page.goto(f"{app_url}/{path}")
        page.locator("h1, h2, h3").first.wait_for(timeout=TIMEOUT_MS)  # the page (or the admin sign-in) is drawn
        page.wait_for_load_state("networkidle")  # late requests (fonts, icons, images, the favicon) come before it
        page.wait_for_timeout(500)

    visiting[0] = "/reconstruct (3D view, Open in VR, the viewer)"
    page.goto(f"{app_url}/reconstruct")
    page.get_by_text("Surface triangles").wait_for(timeout=TIMEOUT_MS)
    page.locator('[data-testid="stBidiComponentIsolated"]').first.wait_for(timeout=TIMEOUT_MS)  # the vtk.js view
    page.wait_for_timeout(5000)  # vtk.js draws after the scene arrives
    page.get_by_role("button", name="Open in VR").click(timeout=TIMEOUT_MS)
    page.get_by_text("Scan with the headset").wait_for(timeout=TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "offline_reconstruct.png"), full_page=True)
    link = page.locator("code").filter(has_text="/xr/").inner_text().strip()
    viewer = context.new_page()
    viewer.goto(link)
    viewer.wait_for_selector("body[data-state=ready]", timeout=TIMEOUT_MS)
    viewer.wait_for_timeout(1500)
    context.close()
    assert outside == [], "requests to hosts other than the app's own:\n" + "\n".join(dict.fromkeys(outside))

    log = (ARTIFACTS / app_log_name()).read_text(errors="replace")  # the app's server, its forked exports included
    hosts = {urlsplit(url).hostname for url in re.findall(r"https?://[^\s'\"<>)]+", log)} - LOOPBACK
    assert "Cannot connect to host" not in log and "Downloaded WASM" not in log and not hosts, sorted(hosts)


# PyVista's HTML export (what stpyvista runs, in a forked process, for every 3D view), in a process of its own (the
# export starts a trame server and patches asyncio), with every host look-up recorded and outside ones failing as on
# an offline network.
_EXPORT_OFFLINE = """
import json, socket, sys, warnings
import numpy as np
looked_up, real = [], socket.getaddrinfo
def offline(host, *args, **kwargs):
    looked_up.append(str(host))
    if str(host) not in {"127.0.0.1", "localhost", "::1"}:
        raise socket.gaierror(socket.EAI_NONAME, "offline (test)")
    return real(host, *args, **kwargs)
socket.getaddrinfo = offline
from core.export.mesh import plotter
from core.types import Mesh
from ui.reconstruction import keep_vtk_wasm_offline
if sys.argv[1] == "fixed":
    keep_vtk_wasm_offline()
mesh = Mesh(vertices=np.array([[0, 0, 0], [40, 0, 0], [0, 40, 0], [0, 0, 40]], np.float32),
            faces=np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]], np.int32))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # PyVista calls export_html deprecated; stpyvista still calls it
    html = plotter(mesh).export_html(None).read()
print(json.dumps({"html_bytes": len(html), "looked_up": looked_up}))
"""


def _export_offline(variant: str) -> dict:
    result = subprocess.run([sys.executable, "-c", _EXPORT_OFFLINE, variant], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_drawing_a_3d_view_looks_up_no_outside_host():
    export = _export_offline("fixed")  # with "as installed" instead, it looked up gitlab.kitware.com twice
    assert export["html_bytes"] > 100_000  # the vtk.js page, all inline, still made
    assert [host for host in export["looked_up"] if host not in LOOPBACK] == []


def test_uncaught_errors_show_no_details_in_the_browser():
    """Tracebacks and exception messages (paths, values, sometimes data) stay in the server's log."""
    import tomllib

    from streamlit import config

    with (REPO_ROOT / ".streamlit" / "config.toml").open("rb") as handle:
        shown = tomllib.load(handle)["client"]["showErrorDetails"]
    assert shown == config.ShowErrorDetailsConfigOptions.NONE == "none"  # "none": a generic sentence, no type either
