"""Surfaces from volumes and images: marching cubes (scikit-image), height fields, smoothing and decimation
(PyVista/VTK), per-vertex values. :func:`to_polydata` hands a mesh to PyVista; its files and its scene in the browser
are :mod:`core.export.mesh`'s.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from scipy.ndimage import map_coordinates
from skimage.measure import marching_cubes

from core.errors import InputError
from core.types import Mesh, Volume

__all__ = [
    "decimate",
    "frontal_values",
    "height_field",
    "is_closed",
    "sample_values",
    "smooth",
    "surface",
    "to_polydata",
]


def surface(volume: Volume, *, level: float | None = None, step: int = 1) -> Mesh:
    """The isosurface of a volume by marching cubes (Lewiner), in millimetres of the LAS frame.

    Parameters
    ----------
    volume : Volume
        A mask (level 0.5, the result is closed where the mask does not touch the grid's border: the border is
        padded) or an intensity volume (``level`` required).
    level : float, optional
        The iso-value; 0.5 for masks.
    step : int
        Voxel step (2 halves the resolution, and the triangles by about 4).

    Returns
    -------
    Mesh
    """
    if volume.unit == "mask":
        level = 0.5 if level is None else level
    elif level is None:
        raise InputError(f"Give the iso-value (level) of the surface for a volume in '{volume.unit}'.")
    data = np.pad(volume.data.astype(np.float32), 1, mode="constant", constant_values=0.0)
    if not data.min() < level < data.max():
        raise InputError(
            f"The volume has no surface at level {level:g}: its values lie in [{data.min():g}, {data.max():g}]. "
            "Choose a level inside that range (or check that the mask is not empty)."
        )
    vertices, faces, _, _ = marching_cubes(data, level=level, spacing=volume.spacing_mm, step_size=step,
                                           allow_degenerate=False)  # fmt: skip
    vertices -= np.array(volume.spacing_mm)  # undo the padding
    # (z, y, x) → (x, y, z). scikit-image orients faces towards lower values (inwards) in its (z, y, x) order;
    # swapping two axes reverses that, so the faces end up counter-clockwise seen from outside.
    return Mesh(vertices=vertices[:, ::-1].copy(), faces=faces.copy())


def height_field(
    heights: np.ndarray,
    *,
    values: np.ndarray | None = None,
    width_mm: float = 350.0,
    relief_mm: float = 50.0,
    max_side: int = 192,
) -> Mesh:
    """An image as a relief: a surface over the image plane whose height is the pixel value (the seed paper's 3D
    intensity plot, as a mesh for the WebXR viewer).

    The image stands upright as on a light box, seen from the front: its columns run along ``x`` (patient's right
    on the viewer's left, as a PA radiograph is read), its rows down ``z``, and bright pixels come forward along
    ``y`` (towards the viewer), in the LAS frame of the project's meshes.

    Parameters
    ----------
    heights : ndarray, shape (H, W)
        Values in ``[0, 1]`` (an X-ray's grey levels).
    values : ndarray, shape (h, w), optional
        What colours the surface, in ``[0, 1]`` (e.g. a Grad-CAM heat map, stretched to the image's proportions);
        the heights themselves by default.
    width_mm : float
        The image's width on the model (350 mm: a chest radiograph, life-size).
    relief_mm : float
        The height of a pixel of value 1.
    max_side : int
        Grid samples on the image's longer side (192: 2 × 191 × ~165 ≈ 63 k triangles for a chest X-ray).

    Returns
    -------
    Mesh
        Faces counter-clockwise seen from the front (normals towards ``+y``).
    """
    from core.preprocess import resize, shrink_to_fit

    heights = np.asarray(heights, dtype=np.float32)
    if heights.ndim != 2 or min(heights.shape) < 2:
        raise InputError(f"A height field needs a 2D image of at least 2 × 2 pixels; got shape {heights.shape}.")
    if not (width_mm > 0 and relief_mm >= 0 and max_side >= 2):
        raise InputError(f"Need width_mm > 0, relief_mm ≥ 0, max_side ≥ 2; got {width_mm}, {relief_mm}, {max_side}.")
    grid = np.clip(shrink_to_fit(heights, max_side=max_side), 0.0, 1.0)
    rows, columns = grid.shape
    if values is None:
        colour = grid
    else:
        colour = np.clip(resize(np.asarray(values, dtype=np.float32), size=grid.shape, keep_aspect=False), 0, 1)
    step = width_mm / max(columns - 1, 1)
    r, c = np.mgrid[0:rows, 0:columns]
    vertices = np.stack([c * step, grid * relief_mm, (rows - 1 - r) * step], axis=-1).reshape(-1, 3)
    index = np.arange(rows * columns).reshape(rows, columns)
    top_left, top_right = index[:-1, :-1].ravel(), index[:-1, 1:].ravel()
    bottom_left, bottom_right = index[1:, :-1].ravel(), index[1:, 1:].ravel()
    # (here, right, below) is counter-clockwise seen from +y: right × below points towards the viewer.
    faces = np.concatenate([np.stack([top_left, top_right, bottom_left], axis=1),
                            np.stack([top_right, bottom_right, bottom_left], axis=1)])  # fmt: skip
    return Mesh(vertices=vertices, faces=faces, values=colour.reshape(-1))


def to_polydata(mesh: Mesh) -> pv.PolyData:
    """The mesh as PyVista's triangles, its values (if any) as the point data ``"values"``."""
    faces = np.hstack([np.full((mesh.n_triangles, 1), 3), mesh.faces]).ravel()
    polydata = pv.PolyData(np.asarray(mesh.vertices, dtype=np.float64), faces)
    if mesh.values is not None:
        polydata.point_data["values"] = mesh.values
    return polydata


def _from_polydata(polydata: pv.PolyData) -> Mesh:
    polydata = polydata.triangulate()
    faces = polydata.faces.reshape(-1, 4)[:, 1:] if polydata.n_cells else np.zeros((0, 3), dtype=np.int64)
    values = polydata.point_data.get("values")
    return Mesh(vertices=polydata.points, faces=faces, values=None if values is None else np.clip(values, 0, 1))


def smooth(mesh: Mesh, *, iterations: int = 20, pass_band: float = 0.1) -> Mesh:
    """Taubin smoothing (windowed sinc, VTK): removes the staircase of marching cubes without shrinking the shape."""
    if iterations < 1 or not 0 < pass_band < 2:
        raise InputError(f"Smoothing needs iterations ≥ 1 and 0 < pass_band < 2; got {iterations}, {pass_band}.")
    return _from_polydata(to_polydata(mesh).smooth_taubin(n_iter=iterations, pass_band=pass_band))


def decimate(mesh: Mesh, *, max_triangles: int) -> Mesh:
    """At most ``max_triangles`` triangles, by quadric decimation (VTK); the mesh itself if already within budget."""
    if max_triangles < 4:
        raise InputError(f"A surface needs at least 4 triangles; got a budget of {max_triangles}.")
    if mesh.n_triangles <= max_triangles:
        return mesh
    polydata = to_polydata(mesh)
    reduction = 1.0 - max_triangles / mesh.n_triangles
    for _ in range(5):  # VTK's reduction is approximate: tighten until within budget
        result = polydata.decimate(reduction, volume_preservation=True)
        if result.n_cells <= max_triangles:
            return _from_polydata(result)
        reduction = 1.0 - (1.0 - reduction) * max_triangles / result.n_cells * 0.98
    raise InputError(f"The surface could not be reduced to {max_triangles} triangles.")


def is_closed(mesh: Mesh) -> bool:
    """Whether every edge is shared by exactly two triangles (a watertight surface)."""
    edges = np.sort(np.concatenate([mesh.faces[:, [0, 1]], mesh.faces[:, [1, 2]], mesh.faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool(len(counts)) and bool((counts == 2).all())


def sample_values(mesh: Mesh, volume: Volume, *, value_range: tuple[float, float] | None = None) -> Mesh:
    """The mesh with a value per vertex sampled (trilinearly) from ``volume`` and scaled to ``[0, 1]``.

    Parameters
    ----------
    mesh : Mesh
        In the volume's frame (millimetres).
    volume : Volume
        E.g. attenuation, or a heat map carried into 3D.
    value_range : (float, float), optional
        Values mapped to 0 and 1; the sampled minimum and maximum by default.
    """
    index = (mesh.vertices[:, ::-1] / np.array(volume.spacing_mm)).T  # (z, y, x) voxel coordinates
    values = map_coordinates(volume.data.astype(np.float32), index, order=1, mode="nearest")
    low, high = value_range or (float(values.min()), float(values.max()))
    scaled = np.clip((values - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(values)
    return Mesh(vertices=mesh.vertices, faces=mesh.faces, values=scaled)


def frontal_values(mesh: Mesh, image: np.ndarray, *, spacing_mm: tuple[float, float, float]) -> Mesh:
    """The mesh with values carried from a frontal image straight back along ``y`` onto every vertex: e.g. the
    Grad-CAM heat map of a frontal radiograph painted onto the lungs built from it.

    Parameters
    ----------
    mesh : Mesh
        In the frame of a grid with voxel size ``spacing_mm``.
    image : ndarray, shape (Z, X)
        On that grid's ``(z, x)`` sampling, row 0 inferior (the :class:`Projections` orientation), values in
        ``[0, 1]``.
    spacing_mm : (float, float, float)
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise InputError(f"A frontal image is 2D (Z, X); got shape {image.shape}.")
    index = np.stack([mesh.vertices[:, 2] / spacing_mm[0], mesh.vertices[:, 0] / spacing_mm[2]])
    values = map_coordinates(image, index, order=1, mode="nearest")
    return Mesh(vertices=mesh.vertices, faces=mesh.faces, values=np.clip(values, 0.0, 1.0))
