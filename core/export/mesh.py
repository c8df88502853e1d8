"""Lung and other surfaces out of the app: binary STL and PLY files to download, and the PyVista scene the browser
shows (stpyvista). The surfaces themselves are :mod:`core.reconstruct.surface`'s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyvista as pv

from core.errors import InputError
from core.reconstruct.surface import to_polydata
from core.types import Mesh

__all__ = ["MESH_FORMATS", "mesh_bytes", "plotter"]

#: The file formats of :func:`mesh_bytes` and their MIME types.
MESH_FORMATS = {"stl": "model/stl", "ply": "application/ply"}


def mesh_bytes(mesh: Mesh, fmt: str = "stl") -> bytes:
    """The mesh as a binary STL or PLY file (PLY keeps the per-vertex values as grey colours)."""
    if fmt not in MESH_FORMATS:
        raise InputError(f"Meshes are written as {' or '.join(MESH_FORMATS)}, not '{fmt}'.")
    polydata = to_polydata(mesh)
    texture = None
    if fmt == "ply" and mesh.values is not None:
        polydata.point_data["colours"] = np.repeat(np.rint(mesh.values * 255).astype(np.uint8)[:, None], 3, axis=1)
        texture = "colours"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"mesh.{fmt}"
        polydata.save(path, binary=True, texture=texture) if fmt == "ply" else polydata.save(path, binary=True)
        return path.read_bytes()


def plotter(mesh: Mesh, *, colourmap: str = "bone", colour: str = "#e8b4a0", window_size: tuple[int, int] = (700, 560)):
    """An off-screen PyVista plotter showing the mesh (coloured by its values when it has them), viewed from the
    front with the patient upright, for the browser (stpyvista)."""
    scene = pv.Plotter(off_screen=True, window_size=list(window_size))
    polydata = to_polydata(mesh)
    if mesh.values is not None:
        scene.add_mesh(polydata, scalars="values", cmap=colourmap, clim=(0, 1), smooth_shading=True,
                       show_scalar_bar=False)  # fmt: skip
    else:
        scene.add_mesh(polydata, color=colour, smooth_shading=True, specular=0.2)
    scene.set_background("#0e1117")
    # Look from the patient's front (+y, anterior) towards the back, superior (+z) up.
    centre = polydata.center
    scene.camera_position = [(centre[0], centre[1] + 1.4 * polydata.length, centre[2]), centre, (0, 0, 1)]
    return scene
