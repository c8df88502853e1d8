"""Shape from silhouettes: the visual hull, the largest volume whose projections fit inside every view's mask.

A voxel belongs to the hull when it projects inside the silhouette in every view. With two views (frontal and
lateral) the hull is a coarse box-like shell; each added view carves it closer to the object, never inside it (for
exact silhouettes the object is always contained in its hull).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.errors import InputError
from core.reconstruct.projection import Projections, parallel_beam
from core.reconstruct.volume import axis_centre
from core.types import Volume

__all__ = ["elliptic_hull", "silhouettes", "visual_hull"]


def silhouettes(mask: Volume, angles_deg: np.ndarray) -> Projections:
    """Exact parallel-beam silhouettes of a mask volume: a detector pixel is inside when its ray crosses the
    mask for at least half a voxel.

    Returns
    -------
    Projections
        Images of 0.0 and 1.0 (float32).
    """
    if mask.unit != "mask":
        raise InputError(f"Silhouettes are cast by masks; this volume holds '{mask.unit}'.")
    as_density = Volume(data=mask.data.astype(np.float32), spacing_mm=mask.spacing_mm, unit="1/mm")
    lengths = parallel_beam(as_density, angles_deg)
    inside = (lengths.images >= 0.5 * mask.spacing_mm[2]).astype(np.float32)
    return Projections(images=inside, angles_deg=lengths.angles_deg, pixel_mm=lengths.pixel_mm)


def visual_hull(views: Projections, *, shape: tuple[int, int, int], spacing_mm: tuple[float, float, float]) -> Volume:
    """Carve a ``shape`` grid (centred on the rotation axis) with the silhouettes in ``views``.

    Parameters
    ----------
    views : Projections
        Silhouette masks (non-zero inside), parallel or cone beam, at least 2 views; rows are the grid's slices
        (parallel) or are mapped through the cone geometry.
    shape : (int, int, int)
        ``(Z, Y, X)`` of the result.
    spacing_mm : (float, float, float)
        Its voxel size.

    Returns
    -------
    Volume
        ``"mask"``.
    """
    if len(views) < 2:
        raise InputError(f"A visual hull needs at least two views at different angles; got {len(views)}.")
    masks = views.images > 0.5
    if not masks.any(axis=(1, 2)).all():
        empty = [f"{a:g}°" for a, m in zip(views.angles_deg, masks, strict=True) if not m.any()]
        raise InputError(f"The silhouette of the view(s) at {', '.join(empty)} is empty: nothing to carve from.")
    slices, rows, columns = shape
    _, det_rows, det_columns = masks.shape
    pitch_v, pitch_u = views.pixel_mm
    z = (np.arange(slices) - axis_centre(slices)) * spacing_mm[0]
    y = (np.arange(rows) - axis_centre(rows)) * spacing_mm[1]
    x = (np.arange(columns) - axis_centre(columns)) * spacing_mm[2]
    hull = np.ones(shape, dtype=bool)
    for mask, angle in zip(masks, np.deg2rad(views.angles_deg), strict=True):
        across = x[None, :] * np.cos(angle) - y[:, None] * np.sin(angle)  # (Y, X) mm along the detector
        if views.geometry == "cone":
            depth = x[None, :] * np.sin(angle) + y[:, None] * np.cos(angle)
            scale = views.source_to_axis_mm / (views.source_to_axis_mm + depth)  # to the axis plane
        else:
            scale = np.ones_like(across)
        u = np.rint(across * scale / pitch_u + axis_centre(det_columns)).astype(np.int64)
        v = np.rint(z[:, None, None] * scale[None] / pitch_v + axis_centre(det_rows)).astype(np.int64)
        u = np.broadcast_to(u, shape)
        v = np.broadcast_to(v, shape)
        valid = (u >= 0) & (u < det_columns) & (v >= 0) & (v < det_rows)
        inside = np.zeros(shape, dtype=bool)
        inside[valid] = mask[v[valid], u[valid]]
        hull &= inside
    return Volume(data=hull, spacing_mm=spacing_mm, unit="mask")


def elliptic_hull(views: Projections, *, shape: tuple[int, int, int], spacing_mm: tuple[float, float, float]) -> Volume:
    """The visual hull with each of its axial cross-sections replaced by the ellipse inscribed in it.

    From two views the hull's cross-sections are rectangles (each lung: its width from the frontal view, its depth
    from the lateral), while the lungs' own cross-sections are rounded: an ellipse inscribed in each rectangle is the
    usual shape prior (it fills π/4 of it). Meant for two roughly orthogonal views; it never leaves the hull.
    """
    hull = visual_hull(views, shape=shape, spacing_mm=spacing_mm).data
    rows, columns = np.ogrid[: shape[1], : shape[2]]
    out = np.zeros(shape, dtype=bool)
    for k in range(shape[0]):
        labels, _ = ndimage.label(hull[k])
        for index, box in enumerate(ndimage.find_objects(labels), start=1):
            centre_y, centre_x = (box[0].start + box[0].stop - 1) / 2, (box[1].start + box[1].stop - 1) / 2
            radius_y, radius_x = (box[0].stop - box[0].start) / 2, (box[1].stop - box[1].start) / 2
            ellipse = ((rows - centre_y) / radius_y) ** 2 + ((columns - centre_x) / radius_x) ** 2 <= 1.0
            out[k] |= ellipse & (labels == index)
    return Volume(data=out, spacing_mm=spacing_mm, unit="mask")
