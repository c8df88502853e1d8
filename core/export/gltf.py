"""3D results as binary glTF (GLB) for the WebXR viewer and any glTF tool (trimesh writes the file).

What a headset needs and gets:

- **units**: metres (glTF's unit), the millimetres of the project's meshes divided by 1000;
- **axes**: glTF's +Y up and +Z towards the viewer. The patient stands upright facing the viewer: superior → +Y,
  anterior → +Z, the patient's left → +X (the viewer's right), so nothing is mirrored;
- **normals** per vertex, **colours** per vertex (from the mesh's values through a colour map, or one colour), a
  non-metallic, fairly rough material (tissue is not chrome);
- **budget**: at most 150 000 triangles and 8 MB, decimated automatically;
- **privacy**: nothing but geometry, colours and a generic name: no file names, dates or DICOM tags.
"""

from __future__ import annotations

import json
import struct

import matplotlib
import numpy as np
import trimesh
from trimesh.visual.material import PBRMaterial

from core.errors import InputError
from core.reconstruct.surface import decimate
from core.types import Mesh

__all__ = ["MAX_GLB_BYTES", "MAX_TRIANGLES", "glb_triangles", "mesh_to_glb"]

MAX_TRIANGLES = 150_000
MAX_GLB_BYTES = 8 * 1024 * 1024
# LAS (x left, y anterior, z superior) in mm → glTF (X, Y, Z) = (x, z, y) in metres.
_AXES = np.array([0, 2, 1])


def _colours(mesh: Mesh, colourmap: str, colour: tuple[int, int, int]) -> np.ndarray:
    if mesh.values is None:
        return np.tile(np.array([*colour, 255], dtype=np.uint8), (len(mesh.vertices), 1))
    rgba = matplotlib.colormaps[colourmap](np.clip(mesh.values, 0.0, 1.0))
    return np.rint(rgba * 255).astype(np.uint8)


def mesh_to_glb(
    mesh: Mesh,
    *,
    colourmap: str = "bone",
    colour: tuple[int, int, int] = (232, 180, 160),
    centre: bool = True,
    double_sided: bool = False,
    patient_frame: bool = True,
    max_triangles: int = MAX_TRIANGLES,
    max_bytes: int = MAX_GLB_BYTES,
) -> bytes:
    """The mesh as a GLB file within the headset budget.

    Parameters
    ----------
    mesh : Mesh
        In millimetres, LAS frame.
    colourmap : str
        A matplotlib colour map for the mesh's values (``"bone"``, ``"jet"`` for heat maps...).
    colour : (int, int, int)
        RGB of a mesh without values.
    centre : bool
        Move the model's bounding-box centre to the origin (where the viewer places it).
    double_sided : bool
        Draw the back of the faces too: for open surfaces (an intensity relief), not for closed ones.
    patient_frame : bool
        The mesh's axes are the patient's (a reconstruction), so the viewer marks R/L, S and A/P on it; False for
        an intensity relief, whose height is brightness. Stored as the scene's ``extras``.
    max_triangles, max_bytes : int
        The budget; the mesh is decimated until the file fits.

    Returns
    -------
    bytes
    """
    if mesh.n_triangles == 0:
        raise InputError("The surface is empty: there is nothing to export.")
    if colourmap not in matplotlib.colormaps:
        raise InputError(f"Unknown colour map '{colourmap}'.")
    budget = min(max_triangles, mesh.n_triangles)
    for _ in range(6):
        reduced = decimate(mesh, max_triangles=budget)
        vertices = reduced.vertices[:, _AXES].astype(np.float64) / 1000.0
        if centre:
            vertices -= (vertices.min(axis=0) + vertices.max(axis=0)) / 2
        # Swapping two axes mirrors the numbers: reverse the winding so that faces still point outwards.
        shape = trimesh.Trimesh(vertices=vertices, faces=reduced.faces[:, ::-1], process=False,
                                vertex_colors=_colours(reduced, colourmap, colour))  # fmt: skip
        shape.visual.material = PBRMaterial(name="tissue", metallicFactor=0.0, roughnessFactor=0.7,
                                            baseColorFactor=[255, 255, 255, 255], doubleSided=double_sided)  # fmt: skip
        scene = trimesh.Scene(geometry={"surface": shape}, metadata={"patient_frame": patient_frame})
        data = trimesh.exchange.gltf.export_glb(scene, include_normals=True)
        if len(data) <= max_bytes:
            return data
        budget = int(budget * 0.8 * max_bytes / len(data))
    raise InputError(f"The surface could not be brought under {max_bytes / 2**20:.0f} MB.")


def glb_triangles(data: bytes) -> int:
    """How many triangles a GLB file draws (from its JSON chunk: indexed triangle primitives)."""
    if len(data) < 20 or data[:4] != b"glTF":
        raise InputError("Not a binary glTF (GLB) file.")
    length, kind = struct.unpack_from("<I4s", data, 12)
    if kind != b"JSON":
        raise InputError("A GLB file starts with its JSON chunk; this one does not.")
    document = json.loads(data[20 : 20 + length])
    accessors = document.get("accessors", [])
    return sum(accessors[p["indices"]]["count"] // 3 for mesh in document.get("meshes", [])
               for p in mesh["primitives"] if p.get("mode", 4) == 4 and "indices" in p)  # fmt: skip
