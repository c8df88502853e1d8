"""What the Reconstruct page runs: the demo CT's modes, and uploads with their bad cases."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.io import read_xray_file
from core.reconstruct.modes import load_demo_ct, reconstruct_demo, reconstruct_radiographs
from core.reconstruct.surface import is_closed


@pytest.fixture(scope="module")
def demo():
    return load_demo_ct()


def test_the_demo_ct_ships_with_its_lungs(demo):
    mu, lungs = demo
    assert mu.shape == lungs.shape == (133, 128, 128) and mu.unit == "1/mm" and lungs.unit == "mask"
    assert 0.05 < lungs.data.mean() < 0.2


def test_each_demo_mode_gives_a_closed_lung_surface_within_budget(demo):
    mu, lungs = demo
    hull = reconstruct_demo(mu, lungs, mode="visual-hull", views=2, exact_silhouettes=True, max_triangles=20_000)
    assert hull.figures["dice"] == pytest.approx(0.689, abs=0.01) and hull.volume is None
    assert hull.mesh.n_triangles <= 20_000 and is_closed(hull.mesh)
    single = reconstruct_demo(mu, lungs, mode="single-view", views=1, max_triangles=20_000)
    assert single.approximate and 0.3 < single.figures["dice"] < 0.7
    with pytest.raises(InputError, match="exactly one view"):
        reconstruct_demo(mu, lungs, mode="single-view", views=2)
    with pytest.raises(InputError, match="at least 2 views"):
        reconstruct_demo(mu, lungs, mode="tomography", views=1)


def test_a_single_real_frontal_xray_gives_an_approximation(real_xray):
    result = reconstruct_radiographs([real_xray.pixels], [0.0], mode="single-view")
    assert result.approximate and result.lungs.data.any() and result.mesh.n_triangles > 1000
    height, width = real_xray.shape
    assert result.lungs.shape == (round(128 * height / width), 128, 128)


def test_bad_uploads_are_refused_with_a_reason(fullres_paths):
    first, second = (read_xray_file(p).pixels for p in fullres_paths[:2])
    assert first.shape != second.shape
    with pytest.raises(InputError, match="different sizes"):
        reconstruct_radiographs([first, second], [0, 90], mode="visual-hull")
    with pytest.raises(InputError, match="one angle per view"):
        reconstruct_radiographs([first, first], [0], mode="visual-hull")
    with pytest.raises(InputError, match="at least two"):
        reconstruct_radiographs([first], [0], mode="visual-hull")
    with pytest.raises(InputError, match="tomography needs calibrated"):
        reconstruct_radiographs([first, first], [0, 90], mode="tomography")
    with pytest.raises(InputError, match="Duplicated"):
        reconstruct_radiographs([first, first], [0, 360], mode="visual-hull")
    with pytest.raises(InputError, match="No lung field"):
        reconstruct_radiographs([np.zeros((200, 200), np.float32) + np.eye(200, dtype=np.float32)], [0],
                                mode="single-view")  # fmt: skip
