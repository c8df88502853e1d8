"""Lungs found in an attenuation volume (a CT, or a reconstruction of one) by their air content.

Classical and label-free: the body is what attenuates more than fat-and-air mixtures; the lungs are the large air
spaces inside it. Vessels and airway walls inside the lungs are filled in, as the reference lung labels include them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from core.errors import InputError
from core.reconstruct.volume import MU_WATER_PER_MM
from core.types import Volume

__all__ = ["lungs_in_volume"]


def _hu(value: float, mu_water: float) -> float:
    return mu_water * (1.0 + value / 1000.0)


def lungs_in_volume(
    mu: Volume, *, air_hu: float = -400.0, body_hu: float = -500.0, mu_water: float = MU_WATER_PER_MM
) -> Volume:
    """A boolean mask of the lungs.

    Parameters
    ----------
    mu : Volume
        Attenuation, 1/mm.
    air_hu : float
        Voxels below this (in HU) inside the body count as lung air.
    body_hu : float
        Voxels above this belong to the body (its outline is filled slice by slice).
    mu_water : float
        Attenuation of water used to convert the thresholds.

    Returns
    -------
    Volume
        ``"mask"``; empty when no air space is found inside the body.
    """
    if mu.unit != "1/mm":
        raise InputError(f"Lungs are found in attenuation volumes (1/mm); this volume holds '{mu.unit}'.")
    data = mu.data
    body = np.stack([ndimage.binary_fill_holes(s) for s in data > _hu(body_hu, mu_water)])
    air = body & (data < _hu(air_hu, mu_water))
    labels, count = ndimage.label(air)
    if count == 0:
        return Volume(data=np.zeros(mu.shape, dtype=bool), spacing_mm=mu.spacing_mm, unit="mask")
    sizes = np.bincount(labels.ravel())[1:]
    # The lungs: the components holding at least a tenth of the largest one (both lungs, when not connected).
    keep = np.flatnonzero(sizes >= 0.1 * sizes.max()) + 1
    lungs = np.isin(labels, keep)
    lungs = ndimage.binary_closing(lungs, structure=ndimage.generate_binary_structure(3, 1), iterations=2)
    lungs = np.stack([ndimage.binary_fill_holes(s) for s in lungs])
    return Volume(data=lungs, spacing_mm=mu.spacing_mm, unit="mask")
