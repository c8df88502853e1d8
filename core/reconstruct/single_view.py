"""A plausible 3D lung surface from one frontal radiograph: an **approximation**, not a reconstruction.

One view says nothing about depth. We assume what anatomy usually is: each lung's front-to-back depth at a point of
its frontal outline grows with the distance to that outline (the lung is thickest in its middle and thin at its
edges), ``depth = depth_ratio × distance``, centred on one coronal plane. The result looks like lungs and has the
right outline from the front; its depth is a guess and must be presented as one.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.errors import InputError
from core.types import Volume

__all__ = ["DEPTH_RATIO", "inflate_frontal_mask"]

#: Front-to-back thickness over the distance to the outline; adult lungs are about 1.5-2× deeper than half as wide.
DEPTH_RATIO = 1.6


def inflate_frontal_mask(
    mask: np.ndarray,
    *,
    pixel_mm: tuple[float, float],
    shape: tuple[int, int, int],
    spacing_mm: tuple[float, float, float],
    depth_ratio: float = DEPTH_RATIO,
    centre_y_mm: float = 0.0,
) -> Volume:
    """A lung-like volume whose frontal silhouette is ``mask``.

    Parameters
    ----------
    mask : ndarray of bool, shape (Z, U)
        The lungs in a frontal view, rows along ``z`` (row 0 inferior, as in :class:`Projections`), columns along
        ``x``, on the grid's own ``(z, x)`` sampling.
    pixel_mm : (float, float)
        The mask's pixel size ``(z, x)``.
    shape, spacing_mm
        The output grid ``(Z, Y, X)``.
    depth_ratio : float
        Thickness over distance to the outline (see the module's docstring).
    centre_y_mm : float
        Front-to-back position of the lungs' middle plane, relative to the grid's centre.

    Returns
    -------
    Volume
        ``"mask"``.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or mask.shape != (shape[0], shape[2]):
        raise InputError(f"The frontal mask must be (Z, X) = {(shape[0], shape[2])}; got {mask.shape}.")
    if not mask.any():
        raise InputError("The frontal lung mask is empty: there is nothing to inflate.")
    # Distance to the outline within each row (the lungs' width at that height), in mm.
    distance = np.stack([ndimage.distance_transform_edt(np.pad(row, 1))[1:-1] for row in mask]) * pixel_mm[1]
    y = (np.arange(shape[1]) - (shape[1] - 1) / 2) * spacing_mm[1] - centre_y_mm
    inside = np.abs(y)[None, :, None] <= depth_ratio * distance[:, None, :]
    return Volume(data=inside & mask[:, None, :], spacing_mm=spacing_mm, unit="mask")
