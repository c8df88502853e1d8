"""From a CT in Hounsfield units to what X-rays see (attenuation), on a grid coarse enough to reconstruct quickly."""

from __future__ import annotations

import numpy as np
from skimage.transform import resize

from core.errors import InputError
from core.types import Volume

__all__ = [
    "LUNG_LABELS",
    "MU_WATER_PER_MM",
    "attenuation",
    "axis_centre",
    "display_slice",
    "inscribed_circle",
    "label_mask",
    "resample_to",
]

#: Linear attenuation of water at about 70 keV (the effective energy of a chest radiograph), per millimetre.
MU_WATER_PER_MM = 0.0195
#: Lung lobes in the TotalSegmentator-style label map shipped with the demo CT.
LUNG_LABELS = (10, 11, 12, 13, 14)


def axis_centre(size: int) -> int:
    """Index of the voxel (or detector pixel) the rotation axis passes through along an axis of ``size``: ``size // 2``,
    as scikit-image's Radon transform has it, so that simulated views, tomography and hulls agree to the voxel."""
    return size // 2


def inscribed_circle(side: int) -> np.ndarray:
    """The pixels of a ``side × side`` slice inside its inscribed circle (scikit-image's reconstruction circle)."""
    y, x = np.ogrid[:side, :side]
    centre = radius = axis_centre(side)
    return (y - centre) ** 2 + (x - centre) ** 2 <= radius**2


def attenuation(ct: Volume, *, mu_water: float = MU_WATER_PER_MM) -> Volume:
    """Hounsfield units to linear attenuation: ``mu = mu_water * (1 + HU / 1000)``, air (and below) clamped to 0.

    Voxels outside the scanner's field of view, often stored as -2048 or -3024, become air. In square slices,
    voxels outside the inscribed circle are set to 0 too, as the scanner's reconstruction circle is; parallel
    projections assume nothing lies outside it.

    Parameters
    ----------
    ct : Volume
        In ``"HU"``.
    mu_water : float
        Attenuation of water, 1/mm.

    Returns
    -------
    Volume
        float32 in ``"1/mm"``.
    """
    if ct.unit != "HU":
        raise InputError(f"Attenuation is computed from Hounsfield units; this volume holds '{ct.unit}'.")
    mu = mu_water * (1.0 + np.maximum(ct.data.astype(np.float32), -1000.0) / 1000.0)
    _, rows, columns = ct.shape
    if rows == columns:
        mu[:, ~inscribed_circle(rows)] = 0.0
    return Volume(data=mu.astype(np.float32), spacing_mm=ct.spacing_mm, unit="1/mm")


def resample_to(volume: Volume, *, side: int) -> Volume:
    """The volume with each axial slice resampled to ``side × side`` voxels (slices kept), anti-aliased.

    Masks are resampled as fractions and thresholded at one half; label maps are refused (resample a mask of
    the labels you need instead).
    """
    if volume.unit == "label":
        raise InputError("Resample a mask made from the labels (label_mask), not the label map itself.")
    if side < 8:
        raise InputError(f"A slice needs at least 8 × 8 voxels; got side={side}.")
    slices, rows, columns = volume.shape
    source = volume.data.astype(np.float32)
    out = resize(source, (slices, side, side), order=1, anti_aliasing=side < max(rows, columns), preserve_range=True)
    spacing = (volume.spacing_mm[0], volume.spacing_mm[1] * rows / side, volume.spacing_mm[2] * columns / side)
    data = out >= 0.5 if volume.unit == "mask" else out.astype(np.float32)
    return Volume(data=data, spacing_mm=spacing, unit=volume.unit)


def label_mask(labels: Volume, ids: tuple[int, ...] = LUNG_LABELS) -> Volume:
    """A boolean mask of the voxels carrying any of ``ids`` (the lungs by default)."""
    if labels.unit != "label":
        raise InputError(f"A mask is made from a label map; this volume holds '{labels.unit}'.")
    mask = np.isin(labels.data, ids)
    if not mask.any():
        raise InputError(f"No voxel carries the labels {list(ids)}: check the label map and the ids.")
    return Volume(data=mask, spacing_mm=labels.spacing_mm, unit="mask")


def display_slice(volume: Volume, *, plane: str, index: int) -> np.ndarray:
    """One slice as it is displayed, resampled to square pixels.

    Parameters
    ----------
    volume : Volume
    plane : str
        ``"axial"`` (seen from the feet: anterior up, the patient's right on the left), ``"coronal"`` (seen from
        the front: superior up) or ``"sagittal"`` (seen from the patient's left: superior up, anterior on the
        left), the radiological conventions.
    index : int
        Along the plane's normal (z, y or x).

    Returns
    -------
    ndarray of float32, shape (H, W)
    """
    axis = {"axial": 0, "coronal": 1, "sagittal": 2}.get(plane)
    if axis is None:
        raise InputError(f"Unknown plane '{plane}'; choose axial, coronal or sagittal.")
    if not 0 <= index < volume.shape[axis]:
        raise InputError(f"The {plane} index must lie in 0..{volume.shape[axis] - 1}; got {index}.")
    data = np.take(volume.data, index, axis=axis).astype(np.float32)
    spacing = [s for i, s in enumerate(volume.spacing_mm) if i != axis]  # (row, column) mm
    image = data[::-1]  # axial: anterior (high y) up; coronal and sagittal: superior (high z) up
    if plane == "sagittal":
        image = image[:, ::-1]  # anterior (high y) on the left
    finest = min(spacing)
    size = (max(1, round(image.shape[0] * spacing[0] / finest)), max(1, round(image.shape[1] * spacing[1] / finest)))
    return resize(image, size, order=0 if volume.unit == "mask" else 1, preserve_range=True,
                  anti_aliasing=False).astype(np.float32)  # fmt: skip
