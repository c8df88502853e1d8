"""The viewer's committed bundle (core/xr/static/viewer.js) is exactly what viewer/build.mjs makes from
viewer/src and the pinned packages: nobody edited it by hand, and nobody forgot to rebuild."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import REPO_ROOT, skip_unless_ci

BUNDLE = REPO_ROOT / "core" / "xr" / "static" / "viewer.js"


def test_the_bundle_is_reproducible_from_the_sources(tmp_path):
    node = shutil.which("node")
    if node is None or not (REPO_ROOT / "viewer" / "node_modules" / "esbuild").is_dir():
        skip_unless_ci("the viewer's build tools are not installed: run `npm ci --prefix viewer` (needs Node.js)")
    rebuilt = tmp_path / "viewer.js"
    subprocess.run([node, str(REPO_ROOT / "viewer" / "build.mjs"), "--outfile", str(rebuilt)], check=True, timeout=120)
    assert rebuilt.read_bytes() == BUNDLE.read_bytes(), "rebuild with `npm run build --prefix viewer` and commit"
