"""GLB export for headsets: valid glTF (Khronos validator), metres, upright axes, outward normals, budget."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess

import numpy as np
import pytest
import trimesh

from core.errors import InputError
from core.export.gltf import MAX_TRIANGLES, glb_triangles, mesh_to_glb
from core.reconstruct.surface import height_field, sample_values, surface
from core.types import Volume
from tests.conftest import REPO_ROOT, skip_unless_ci

VALIDATOR = REPO_ROOT / "viewer" / "validate-glb.mjs"


def _ellipsoid(semi_axes_mm=(20.0, 30.0, 60.0), spacing_mm=1.0) -> Volume:
    """Semi-axes along (x, y, z); data[z, y, x]."""
    a, b, c = semi_axes_mm
    shape = [int(2 * s / spacing_mm) + 6 for s in (c, b, a)]
    z, y, x = (np.indices(shape) - (np.array(shape) // 2)[:, None, None, None]) * spacing_mm
    return Volume(data=(x / a) ** 2 + (y / b) ** 2 + (z / c) ** 2 <= 1, spacing_mm=(spacing_mm,) * 3, unit="mask")


def _load(glb: bytes) -> trimesh.Trimesh:
    return next(iter(trimesh.load(io.BytesIO(glb), file_type="glb").geometry.values()))


def _json_chunk(glb: bytes) -> dict:
    length = struct.unpack_from("<I", glb, 12)[0]
    return json.loads(glb[20 : 20 + length])


def _attribute(glb: bytes, name: str) -> np.ndarray:
    """One vertex attribute of the first primitive, read straight from the binary chunk."""
    gltf = _json_chunk(glb)
    binary = glb[20 + struct.unpack_from("<I", glb, 12)[0] + 8 :]
    accessor = gltf["accessors"][gltf["meshes"][0]["primitives"][0]["attributes"][name]]
    view = gltf["bufferViews"][accessor["bufferView"]]
    dtype = {5121: np.uint8, 5126: np.float32}[accessor["componentType"]]
    width = {"VEC3": 3, "VEC4": 4}[accessor["type"]]
    start = view.get("byteOffset", 0) + accessor.get("byteOffset", 0)
    return np.frombuffer(binary, dtype=dtype, count=accessor["count"] * width, offset=start).reshape(-1, width)


@pytest.fixture(scope="module")
def ellipsoid_glb() -> bytes:
    return mesh_to_glb(surface(_ellipsoid()))


def test_units_are_metres_and_the_patient_stands_upright_facing_the_viewer(ellipsoid_glb):
    shape = _load(ellipsoid_glb)
    extent = shape.bounds[1] - shape.bounds[0]
    # x (left) 40 mm → X, z (superior) 120 mm → Y (up), y (anterior) 60 mm → Z (towards the viewer).
    assert extent == pytest.approx([0.040, 0.120, 0.060], abs=0.003)
    assert np.abs(shape.bounds.mean(axis=0)).max() < 1e-6  # centred
    assert shape.is_watertight and shape.volume > 0  # faces wound outwards


def test_normals_colours_and_material_are_there_and_nothing_else(ellipsoid_glb):
    gltf = _json_chunk(ellipsoid_glb)
    attributes = gltf["meshes"][0]["primitives"][0]["attributes"]
    assert {"POSITION", "NORMAL", "COLOR_0"} <= set(attributes)
    material = gltf["materials"][0]["pbrMetallicRoughness"]
    assert material.get("metallicFactor", 1.0) == 0.0 and material["roughnessFactor"] >= 0.5
    text = json.dumps(gltf)
    assert "Patient" not in text and ".dcm" not in text and ".jpeg" not in text


def test_a_dense_surface_is_decimated_to_the_budget():
    dense = surface(_ellipsoid((50.0, 60.0, 90.0), spacing_mm=0.6))
    assert dense.n_triangles > MAX_TRIANGLES
    shape = _load(mesh_to_glb(dense))
    assert len(shape.faces) <= MAX_TRIANGLES and shape.is_watertight
    small = mesh_to_glb(dense, max_triangles=5_000, max_bytes=200_000)
    assert len(small) <= 200_000 and len(_load(small).faces) <= 5_000


def test_values_become_vertex_colours():
    mask = _ellipsoid()
    ramp = Volume(data=np.broadcast_to(np.linspace(0, 1, mask.shape[0])[:, None, None], mask.shape).astype(np.float32),
                  spacing_mm=mask.spacing_mm, unit="1/mm")  # fmt: skip
    glb = mesh_to_glb(sample_values(surface(mask), ramp), colourmap="viridis")
    colours, positions = _attribute(glb, "COLOR_0")[:, :3].astype(float), _attribute(glb, "POSITION")
    top, bottom = positions[:, 1] > 0.05, positions[:, 1] < -0.05
    assert np.abs(colours[top].mean(0) - colours[bottom].mean(0)).sum() > 100  # viridis: yellow top, purple bottom
    with pytest.raises(InputError, match="colour map"):
        mesh_to_glb(surface(mask), colourmap="no-such-map")


@pytest.fixture(scope="module")
def relief_glb() -> bytes:
    ramp = np.tile(np.linspace(0.0, 1.0, 300, dtype=np.float32), (200, 1))
    return mesh_to_glb(height_field(ramp), colourmap="viridis", double_sided=True)


def test_an_intensity_relief_is_life_size_two_sided_and_counted(relief_glb):
    shape = _load(relief_glb)
    extent = shape.bounds[1] - shape.bounds[0]
    # 350 mm wide, 350 × 199/299 mm tall, 50 mm of relief (the ramp's 0 → 1).
    assert extent == pytest.approx([0.350, 0.350 * 199 / 299, 0.050], abs=0.002)
    assert _json_chunk(relief_glb)["materials"][0]["doubleSided"] is True
    # 192 samples on the long side (height_field's default): 2 triangles per grid cell.
    assert glb_triangles(relief_glb) == len(shape.faces) == 2 * 191 * 127
    with pytest.raises(InputError, match="GLB"):
        glb_triangles(b"not a glb file at all")


def test_the_khronos_validator_reports_no_error(ellipsoid_glb, relief_glb, tmp_path):
    node = shutil.which("node")
    if node is None or not (REPO_ROOT / "viewer" / "node_modules" / "gltf-validator").is_dir():
        skip_unless_ci("the glTF validator is not installed: run `npm ci --prefix viewer` (needs Node.js)")
    paths = [tmp_path / "lungs.glb", tmp_path / "relief.glb"]
    paths[0].write_bytes(ellipsoid_glb)
    paths[1].write_bytes(relief_glb)
    result = subprocess.run([node, str(VALIDATOR), *map(str, paths)], capture_output=True, text=True, timeout=120)
    reports = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(reports) == 2 and result.returncode == 0, reports
    for report in reports:
        assert report["errors"] == 0 and report["warnings"] == 0, report["messages"]
