"""Surfaces: marching-cubes area against an analytic ellipsoid, decimation, smoothing, values (their files:
``tests/core/export/test_mesh.py``)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import ellipsoid, ellipsoid_stats
from skimage.measure import mesh_surface_area

from core.errors import InputError
from core.reconstruct.surface import (
    decimate,
    frontal_values,
    height_field,
    is_closed,
    sample_values,
    smooth,
    surface,
)
from core.types import Volume


@pytest.fixture(scope="module")
def levelset() -> Volume:
    """Signed level set of an ellipsoid with semi-axes 6, 10, 16 mm along (z, y, x), positive inside, 0.5 mm voxels."""
    data = -ellipsoid(6, 10, 16, spacing=(0.5, 0.5, 0.5), levelset=True).astype(np.float32)
    return Volume(data=data, spacing_mm=(0.5, 0.5, 0.5), unit="levelset")


def test_marching_cubes_area_of_an_ellipsoid_within_one_percent(levelset):
    mesh = surface(levelset, level=0.0)
    _, area = ellipsoid_stats(6, 10, 16)
    assert mesh_surface_area(mesh.vertices, mesh.faces) == pytest.approx(area, rel=0.01)
    assert is_closed(mesh)
    # Vertices are (x, y, z) in mm: the semi-axes 6, 10, 16 lie along the volume's (z, y, x).
    extent = mesh.vertices.max(axis=0) - mesh.vertices.min(axis=0)
    assert extent == pytest.approx([32, 20, 12], abs=1.0)


def test_decimation_honours_the_budget_and_keeps_the_surface_closed(levelset):
    mesh = surface(levelset, level=0.0)
    reduced = decimate(mesh, max_triangles=1500)
    assert 1000 < reduced.n_triangles <= 1500 and is_closed(reduced)
    assert decimate(reduced, max_triangles=5000) is reduced  # already within budget
    assert mesh_surface_area(reduced.vertices, reduced.faces) == pytest.approx(
        mesh_surface_area(mesh.vertices, mesh.faces), rel=0.03)  # fmt: skip


def test_smoothing_a_mask_surface_keeps_it_closed_and_its_size():
    z, y, x = np.mgrid[:30, :30, :30] - 15
    mask = Volume(data=x**2 + y**2 + z**2 <= 100, spacing_mm=(1, 1, 1), unit="mask")
    blocky = surface(mask)
    smoothed = smooth(blocky)
    assert is_closed(blocky) and is_closed(smoothed)
    radii = np.linalg.norm(smoothed.vertices - smoothed.vertices.mean(axis=0), axis=1)
    assert radii.std() < np.linalg.norm(blocky.vertices - blocky.vertices.mean(axis=0), axis=1).std()
    assert radii.mean() == pytest.approx(10, abs=0.6)


def test_values(levelset):
    mesh = sample_values(decimate(surface(levelset, level=0.0), max_triangles=500), levelset)
    assert mesh.values.shape == (len(mesh.vertices),) and 0 <= mesh.values.min() <= mesh.values.max() <= 1


def test_no_surface_at_the_level_is_a_clear_error(levelset):
    with pytest.raises(InputError, match="no surface at level 99"):
        surface(levelset, level=99.0)
    with pytest.raises(InputError, match="iso-value"):
        surface(levelset)
    with pytest.raises(InputError, match="empty"):
        surface(Volume(data=np.zeros((4, 4, 4), dtype=bool), spacing_mm=(1, 1, 1), unit="mask"))


def test_frontal_values_are_carried_straight_back_along_y():
    z, y, x = np.mgrid[:20, :20, :20] - 10
    box = Volume(data=(abs(x) < 6) & (abs(y) < 6) & (abs(z) < 6), spacing_mm=(2.0, 1.0, 1.0), unit="mask")
    mesh = surface(box)
    ramp = np.tile(np.linspace(0, 1, 20, dtype=np.float32), (20, 1))  # rises along x (columns)
    painted = frontal_values(mesh, ramp, spacing_mm=box.spacing_mm)
    x_mm = painted.vertices[:, 0]
    assert np.corrcoef(x_mm, painted.values)[0, 1] > 0.99  # values follow x only...
    front, back = painted.vertices[:, 1] > 12, painted.vertices[:, 1] < 8
    left = painted.values[front & (x_mm > 12)].mean()
    assert left == pytest.approx(painted.values[back & (x_mm > 12)].mean(), abs=0.02)  # ...the same front and back


def test_faces_are_wound_outwards(levelset):
    import trimesh

    mesh = surface(levelset, level=0.0)
    assert trimesh.Trimesh(mesh.vertices, mesh.faces, process=False).volume > 0


def test_a_height_field_stands_like_the_image_on_a_light_box():
    image = np.zeros((40, 60), dtype=np.float32)
    image[5, 50] = 1.0  # a bright pixel near the top right
    relief = height_field(image, width_mm=300.0, relief_mm=20.0, max_side=64)
    grid = relief.vertices.reshape(40, 60, 3)
    # Columns along x (0 → 300 mm), rows down z (the top row highest), brightness forward along y.
    assert grid[0, -1, 0] == pytest.approx(300.0) and grid[0, 0, 2] > grid[-1, 0, 2] == pytest.approx(0.0)
    assert grid[5, 50, 1] == pytest.approx(20.0) and np.delete(relief.vertices[:, 1], 5 * 60 + 50).max() == 0.0
    # Square pixels: the rows' spacing is the columns'.
    assert grid[0, 0, 2] == pytest.approx(39 * 300.0 / 59)
    normals = np.cross(*(relief.vertices[relief.faces[:, i]] - relief.vertices[relief.faces[:, 0]] for i in (1, 2)))
    assert (normals[:, 1] > 0).all()  # every face looks at the viewer (+y)
    assert relief.n_triangles == 2 * 39 * 59
    assert relief.values.reshape(40, 60)[5, 50] == 1.0  # coloured by the image itself by default


def test_a_height_field_takes_its_colours_from_a_heat_map_of_any_size():
    image = np.full((100, 100), 0.5, dtype=np.float32)
    heat = np.zeros((7, 7), dtype=np.float32)
    heat[:, 4:] = 1.0  # the right part hot, as a Grad-CAM map on the model's square input
    relief = height_field(image, values=heat, max_side=50)
    values = relief.values.reshape(50, 50)
    assert values[:, :20].max() < 0.1 and values[:, 40:].min() > 0.9
    assert relief.vertices[:, 1] == pytest.approx(25.0)  # 0.5 × the default 50 mm of relief


def test_a_height_field_refuses_what_is_not_an_image():
    with pytest.raises(InputError, match="2D image"):
        height_field(np.zeros(10))
    with pytest.raises(InputError, match="width_mm"):
        height_field(np.zeros((8, 8)), width_mm=0)
