"""Visual hulls: they contain the object, and shrink towards it as views are added."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from core.errors import InputError
from core.reconstruct.hull import elliptic_hull, silhouettes, visual_hull
from core.reconstruct.metrics import dice
from core.reconstruct.projection import Projections, cone_beam
from core.types import Volume


@pytest.fixture(scope="module")
def ellipsoid() -> Volume:
    """An off-centre ellipsoid (semi-axes 9, 14, 20 mm along x, y, z) in a 40³ grid of 1.5 mm voxels."""
    z, y, x = (np.mgrid[:40, :40, :40] - 20) * 1.5
    inside = ((x - 3) / 9) ** 2 + ((y + 2) / 14) ** 2 + (z / 20) ** 2 <= 1
    return Volume(data=inside, spacing_mm=(1.5, 1.5, 1.5), unit="mask")


def _hull(mask: Volume, angles) -> np.ndarray:
    return visual_hull(silhouettes(mask, angles), shape=mask.shape, spacing_mm=mask.spacing_mm).data


def test_the_hull_contains_the_object_and_shrinks_as_views_are_added(ellipsoid):
    hulls = [_hull(ellipsoid, angles) for angles in ([0, 90], [0, 45, 90, 135], np.arange(0, 180, 22.5))]
    core = ndimage.binary_erosion(ellipsoid.data)  # silhouettes are cut at half a voxel: the rim may fall outside
    for hull in hulls:
        assert (hull | ~core).all()
    sizes = [int(h.sum()) for h in hulls]
    assert sizes[0] > sizes[1] > sizes[2] >= ellipsoid.data.sum() * 0.95
    assert all((later <= earlier).all() for earlier, later in itertools.pairwise(hulls))  # nested views
    assert dice(hulls[2], ellipsoid.data) > 0.95


def test_the_elliptic_hull_fits_an_ellipsoid_better_than_two_views_alone(ellipsoid):
    views = silhouettes(ellipsoid, [0, 90])
    plain = visual_hull(views, shape=ellipsoid.shape, spacing_mm=ellipsoid.spacing_mm).data
    rounded = elliptic_hull(views, shape=ellipsoid.shape, spacing_mm=ellipsoid.spacing_mm).data
    assert (rounded <= plain).all()
    assert dice(rounded, ellipsoid.data) > dice(plain, ellipsoid.data) + 0.05


def test_cone_beam_silhouettes_carve_the_right_place(ellipsoid):
    density = Volume(data=ellipsoid.data.astype(np.float32), spacing_mm=ellipsoid.spacing_mm, unit="1/mm")
    views = cone_beam(density, [0, 60, 120], source_to_axis_mm=200, source_to_detector_mm=300,
                      detector_shape=(40, 40), pixel_mm=(1.5, 1.5))  # fmt: skip
    masks = Projections(images=(views.images > 0.75).astype(np.float32), angles_deg=views.angles_deg,
                        pixel_mm=views.pixel_mm, geometry="cone", source_to_axis_mm=200,
                        source_to_detector_mm=300)  # fmt: skip
    hull = visual_hull(masks, shape=ellipsoid.shape, spacing_mm=ellipsoid.spacing_mm).data
    assert dice(hull, ellipsoid.data) > 0.8


def test_a_hull_needs_two_views_with_something_in_them(ellipsoid):
    with pytest.raises(InputError, match="at least two views"):
        _hull(ellipsoid, [0])
    views = silhouettes(ellipsoid, [0, 90])
    empty = Projections(images=views.images * np.array([1, 0])[:, None, None], angles_deg=[0, 90],
                        pixel_mm=views.pixel_mm)  # fmt: skip
    with pytest.raises(InputError, match="90° is empty"):
        visual_hull(empty, shape=ellipsoid.shape, spacing_mm=ellipsoid.spacing_mm)
