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


def lungs_in_radiograph(image: np.ndarray, *, lungs: int = 2, smoothing_px: float = 1.5) -> np.ndarray:
    """A boolean mask of the lung fields in a radiograph (bright = dense), found by their darkness inside the body.

    Classical steps: smooth; the body is everything brighter than the background (a tenth of the way from the 1st
    to the 99th percentile), filled; inside it the
    lung fields are the darker class of a second Otsu threshold, away from the body's outline (thin soft tissue
    there is as dark); the ``lungs`` largest regions are kept, closed and filled.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Grey levels, any range; brighter where more is attenuated (the radiograph convention).
    lungs : int
        Regions to keep: 2 in a frontal view, 1 in a lateral view (the lungs overlap).
    smoothing_px : float
        Gaussian smoothing before thresholding.

    Returns
    -------
    ndarray of bool, shape (H, W)
        Empty when nothing lung-like is found.
    """
    from skimage.filters import threshold_otsu

    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 16:
        raise InputError(f"Lungs are segmented in a 2D image of at least 16×16 px; got shape {image.shape}.")
    if np.ptp(image) == 0:
        raise InputError("The image is uniform: there is nothing to segment.")
    smooth = ndimage.gaussian_filter(image, smoothing_px)
    low, high = np.percentile(smooth, [1, 99])
    body = ndimage.binary_fill_holes(smooth > low + 0.1 * (high - low))
    labels, count = ndimage.label(body)
    if count == 0:
        return np.zeros(image.shape, dtype=bool)
    body = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    # Thin soft tissue along the body's outline is as dark as the lungs: keep away from the outline (and the image
    # border) by 4 % of the image width.
    depth = ndimage.distance_transform_edt(np.pad(body, 1))[1:-1, 1:-1]
    # Darker than the surroundings at the scale of the chest: slow trends (thickness, exposure) removed first.
    detail = smooth - ndimage.gaussian_filter(smooth, 0.12 * max(image.shape))
    dark = body & (detail < threshold_otsu(detail[body])) & (depth > 0.04 * image.shape[1])
    dark = ndimage.binary_opening(dark, iterations=2)
    labels, count = ndimage.label(dark)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    sizes[np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))] = 0  # outside air
    if sizes.max(initial=0) == 0:
        return np.zeros(image.shape, dtype=bool)
    keep = [i for i in np.argsort(sizes)[::-1][:lungs] if sizes[i] >= 0.2 * sizes.max()]
    mask = np.isin(labels, keep)
    mask = ndimage.binary_closing(mask, iterations=3)
    return ndimage.binary_fill_holes(mask)
