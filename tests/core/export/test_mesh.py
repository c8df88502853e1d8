"""Surfaces as files: binary STL (50 bytes a triangle), PLY with the values as grey colours, other formats refused."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import ellipsoid

from core.errors import InputError
from core.export.mesh import MESH_FORMATS, mesh_bytes
from core.reconstruct.surface import decimate, sample_values, surface
from core.types import Volume


def test_stl_and_ply_files():
    data = -ellipsoid(6, 10, 16, spacing=(0.5, 0.5, 0.5), levelset=True).astype(np.float32)
    levelset = Volume(data=data, spacing_mm=(0.5, 0.5, 0.5), unit="levelset")
    mesh = sample_values(decimate(surface(levelset, level=0.0), max_triangles=500), levelset)
    stl, ply = mesh_bytes(mesh, "stl"), mesh_bytes(mesh, "ply")
    assert len(stl) == 84 + 50 * mesh.n_triangles  # binary STL: header, count, 50 bytes per triangle
    assert ply.startswith(b"ply\nformat binary") and b"red" in ply[:400]
    assert set(MESH_FORMATS) == {"stl", "ply"}
    with pytest.raises(InputError, match="stl or ply"):
        mesh_bytes(mesh, "obj")
