"""Simulated X-ray views of phantoms whose projections are known analytically."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.reconstruct.projection import cone_beam, parallel_beam, radiograph
from tests.core.reconstruct.conftest import ball

RADIUS, MU, SPACING, SIDE = 15.0, 0.02, 1.5, 48


def _chord(distance_mm: np.ndarray) -> np.ndarray:
    """Line integral through the ball at a distance from its centre: mu × 2 sqrt(R² - d²)."""
    return MU * 2 * np.sqrt(np.clip(RADIUS**2 - distance_mm**2, 0, None))


def test_parallel_views_of_a_ball_are_its_chords_at_every_angle():
    views = parallel_beam(ball(SIDE, radius_mm=RADIUS, spacing_mm=SPACING, mu=MU), [0, 33, 90, 151])
    assert views.images.shape == (4, SIDE, SIDE) and views.geometry == "parallel"
    centre = SIDE // 2
    u = (np.arange(SIDE) - centre) * SPACING
    row = SIDE // 2 + 1  # a voxel above the centre
    expected = _chord(np.hypot(u, (row - centre) * SPACING))
    for image in views.images:
        # A voxelised ball's edge is a voxel away from the analytic one at worst: compare where chords are long,
        # within 8 % of the diameter's integral (0.6).
        assert np.abs(image[row] - expected)[np.abs(u) < 0.6 * RADIUS].max() < 0.05
    # Every view of a ball is the same picture.
    np.testing.assert_allclose(views.images[0], views.images[2], atol=0.03)


def test_cone_views_magnify_the_ball_as_the_geometry_says():
    sad, sdd = 150.0, 300.0
    views = cone_beam(ball(SIDE, radius_mm=RADIUS, spacing_mm=SPACING, mu=MU), [0, 90], source_to_axis_mm=sad,
                      source_to_detector_mm=sdd, detector_shape=(96, 96), pixel_mm=(0.75, 0.75))  # fmt: skip
    image = views.images[0]
    # The central ray crosses a diameter; voxelised, up to one voxel (1.5 mm of 30) longer.
    assert image.max() == pytest.approx(MU * 2 * RADIUS, abs=MU * SPACING * 1.01)
    # The shadow at the axis plane has radius R / cos(asin(R / SAD)) = R·SAD / sqrt(SAD² − R²).
    shadow_radius = RADIUS * sad / np.sqrt(sad**2 - RADIUS**2)
    width = (image[48] > 1e-3).sum() * 0.75
    assert width == pytest.approx(2 * shadow_radius, abs=2 * 0.75 + SPACING)
    assert views.geometry == "cone" and views.source_to_detector_mm == sdd


def test_bad_geometry_and_angles_are_refused():
    phantom = ball(16, radius_mm=5, spacing_mm=1.0)
    with pytest.raises(InputError, match="Duplicated"):
        parallel_beam(phantom, [0, 360])
    with pytest.raises(InputError, match="at least one"):
        parallel_beam(phantom, [])
    with pytest.raises(InputError, match="inside the volume"):
        cone_beam(phantom, [0], source_to_axis_mm=5, source_to_detector_mm=50)
    with pytest.raises(InputError, match="before the detector"):
        cone_beam(phantom, [0], source_to_axis_mm=500, source_to_detector_mm=400)


def test_a_radiograph_shows_superior_up_in_unit_range(ct_64):
    mu, _ = ct_64
    views = parallel_beam(mu, [0])
    image = radiograph(views)
    assert image.shape == (133, 64) and 0 <= image.min() and image.max() <= 1
    # The abdomen (bottom rows, inferior) attenuates more than the lungs (upper-middle rows).
    assert image[-20:, 24:40].mean() > image[30:60, 12:24].mean()
