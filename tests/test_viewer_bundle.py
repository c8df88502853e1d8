"""The viewers' committed bundles (core/xr/static/viewer.js, ui/components/viewer/viewer.js) are exactly what
viewer/build.mjs makes from viewer/src, viewer/image and the pinned packages: nobody edited them by hand, and nobody
forgot to rebuild."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import REPO_ROOT, skip_unless_ci

BUNDLES = {"xr.js": REPO_ROOT / "core" / "xr" / "static" / "viewer.js",
           "image.js": REPO_ROOT / "ui" / "components" / "viewer" / "viewer.js"}  # fmt: skip


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory):
    node = shutil.which("node")
    if node is None or not (REPO_ROOT / "viewer" / "node_modules" / "esbuild").is_dir():
        skip_unless_ci("the viewer's build tools are not installed: run `npm ci --prefix viewer` (needs Node.js)")
    out = tmp_path_factory.mktemp("bundles")
    subprocess.run([node, str(REPO_ROOT / "viewer" / "build.mjs"), "--outdir", str(out)], check=True, timeout=300)
    return out


@pytest.mark.parametrize("name", list(BUNDLES))
def test_the_bundle_is_reproducible_from_the_sources(rebuilt, name):
    assert (rebuilt / name).read_bytes() == BUNDLES[name].read_bytes(), "rebuild with `npm run build --prefix viewer`"
