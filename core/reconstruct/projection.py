"""Digitally reconstructed radiographs (DRRs): X-ray views simulated from an attenuation volume at known angles.

- **Parallel beam**: each axial slice's Radon transform (scikit-image), so a view's row ``k`` is slice ``k``'s
  projection. Exact for the geometry tomography by slice assumes.
- **Cone beam**: a point source and a flat detector, rays cast through the volume with trilinear sampling (SciPy),
  vectorised over the whole detector; source-to-axis and source-to-detector distances in millimetres. Closer to a
  real radiograph (magnification, divergent rays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import map_coordinates
from skimage.transform import radon

from core.errors import InputError
from core.reconstruct.volume import axis_centre, inscribed_circle
from core.types import Volume

__all__ = ["Projections", "cone_beam", "parallel_beam", "radiograph"]


@dataclass(frozen=True)
class Projections:
    """X-ray views of one object at known angles.

    Attributes
    ----------
    images : ndarray of float32, shape (N, Z, U)
        Line integrals of attenuation (dimensionless); row ``k`` runs along the patient's ``z`` (row 0 inferior),
        column ``u`` across the detector.
    angles_deg : ndarray, shape (N,)
        Rotation of each view about ``z``: 0 frontal (rays along ``y``), 90 lateral (rays along ``x``).
    pixel_mm : tuple of float
        Detector pixel size ``(z, u)`` at the rotation axis (after demagnification for a cone beam).
    geometry : str
        ``"parallel"`` or ``"cone"``.
    source_to_axis_mm, source_to_detector_mm : float or None
        Cone-beam distances; ``None`` for parallel beams.
    """

    images: np.ndarray
    angles_deg: np.ndarray
    pixel_mm: tuple[float, float]
    geometry: str = "parallel"
    source_to_axis_mm: float | None = None
    source_to_detector_mm: float | None = None

    def __post_init__(self) -> None:
        images, angles = np.asarray(self.images), _check_angles(self.angles_deg)
        if images.ndim != 3 or images.shape[0] != angles.size:
            raise InputError(
                f"Need one (Z, U) image per angle; got images of shape {images.shape} for {angles.size} angles."
            )
        for array in (images, angles):
            array.setflags(write=False)
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "angles_deg", angles)

    def __len__(self) -> int:
        return int(self.angles_deg.size)


def _check_angles(angles_deg: np.ndarray) -> np.ndarray:
    angles = np.asarray(angles_deg, dtype=np.float64).ravel()
    if angles.size == 0:
        raise InputError("Give at least one view angle.")
    if not np.isfinite(angles).all():
        raise InputError("View angles must be finite numbers of degrees.")
    wrapped = np.round(np.mod(angles, 360.0), 6)
    if np.unique(wrapped).size != wrapped.size:
        raise InputError(f"Duplicated view angles: {sorted(angles.tolist())}. Give each view once.")
    return angles


def parallel_beam(mu: Volume, angles_deg: np.ndarray) -> Projections:
    """Parallel-beam views of an attenuation volume with square axial voxels.

    Parameters
    ----------
    mu : Volume
        ``"1/mm"``. Anything outside the circle inscribed in each square axial slice is ignored (a scanner's
        reconstruction circle; :func:`core.reconstruct.volume.attenuation` zeroes it).
    angles_deg : array of float
        View angles in degrees.

    Returns
    -------
    Projections
        ``U`` equals the slice side.
    """
    if mu.unit != "1/mm":
        raise InputError(f"Projections are simulated from attenuation (1/mm); this volume holds '{mu.unit}'.")
    slices, rows, columns = mu.shape
    if rows != columns or not np.isclose(mu.spacing_mm[1], mu.spacing_mm[2]):
        raise InputError(f"Parallel projection needs square axial slices of square voxels; got {rows}×{columns}.")
    angles = _check_angles(angles_deg)
    step = mu.spacing_mm[2]
    inside = inscribed_circle(columns)
    images = np.empty((angles.size, slices, columns), dtype=np.float32)
    for k in range(slices):
        # radon sums along the slice's rows (y) at angle 0: its column index is x.
        images[:, k, :] = radon(np.where(inside, mu.data[k], 0.0), theta=angles, circle=True).T * step
    return Projections(images=images, angles_deg=angles, pixel_mm=(mu.spacing_mm[0], step))


def cone_beam(
    mu: Volume,
    angles_deg: np.ndarray,
    *,
    source_to_axis_mm: float = 1000.0,
    source_to_detector_mm: float = 1500.0,
    detector_shape: tuple[int, int] | None = None,
    pixel_mm: tuple[float, float] | None = None,
) -> Projections:
    """Cone-beam views: a point source ``source_to_axis_mm`` from the rotation axis, a flat detector
    ``source_to_detector_mm`` from the source, both centred on the volume's centre.

    Parameters
    ----------
    mu : Volume
        ``"1/mm"``.
    angles_deg : array of float
    source_to_axis_mm, source_to_detector_mm : float
        A chest radiograph: about 1000-1800 mm and 1100-1900 mm.
    detector_shape : (int, int), optional
        ``(rows, columns)``; by default the volume's ``(Z, X)`` size.
    pixel_mm : (float, float), optional
        Detector pixel size ``(row, column)`` **at the rotation axis** (the detector's pitch divided by the
        magnification ``source_to_detector_mm / source_to_axis_mm``); by default the volume's ``(z, x)`` spacing,
        so that a view covers the volume as a parallel one does.

    Returns
    -------
    Projections
    """
    if mu.unit != "1/mm":
        raise InputError(f"Projections are simulated from attenuation (1/mm); this volume holds '{mu.unit}'.")
    if not 0 < source_to_axis_mm < source_to_detector_mm:
        raise InputError(
            "The source must lie before the detector: 0 < source_to_axis_mm < source_to_detector_mm; got "
            f"{source_to_axis_mm} and {source_to_detector_mm}."
        )
    _, extent_y, extent_x = mu.extent_mm
    radius = 0.5 * np.hypot(extent_x, extent_y)
    if source_to_axis_mm <= radius:
        raise InputError(
            f"The source, {source_to_axis_mm} mm from the axis, would sit inside the volume (radius {radius:.0f} mm)."
        )
    angles = _check_angles(angles_deg)
    rows, columns = detector_shape or (mu.shape[0], mu.shape[2])
    pitch_v, pitch_u = pixel_mm or (mu.spacing_mm[0], mu.spacing_mm[2])
    spacing = np.array(mu.spacing_mm)
    centre = np.array([axis_centre(n) for n in mu.shape])  # voxel index of the rotation centre
    v = (np.arange(rows) - axis_centre(rows)) * pitch_v
    u = (np.arange(columns) - axis_centre(columns)) * pitch_u
    # Each ray is source + s (pixel - source) for s in [s0, s1], covering the volume's bounding cylinder.
    step_mm = 0.5 * float(min(spacing[1:]))
    s = np.arange((source_to_axis_mm - radius) / source_to_axis_mm, (source_to_axis_mm + radius) / source_to_axis_mm,
                  step_mm / source_to_axis_mm)  # fmt: skip
    data = np.ascontiguousarray(mu.data, dtype=np.float32)
    images = np.empty((angles.size, rows, columns), dtype=np.float32)
    for n, angle in enumerate(np.deg2rad(angles)):
        ray = np.array([0.0, np.cos(angle), np.sin(angle)])  # (z, y, x): angle 0 along +y, 90° along +x
        across = np.array([0.0, -np.sin(angle), np.cos(angle)])  # the detector's u axis; +x at angle 0
        source = -source_to_axis_mm * ray
        pixel = v[:, None, None] * np.array([1.0, 0.0, 0.0]) + u[None, :, None] * across  # (rows, columns, 3)
        offset = pixel - source  # source → pixel, mm
        length = np.linalg.norm(offset, axis=-1)  # mm per unit of s
        total = np.zeros((rows, columns), dtype=np.float64)
        for chunk in np.array_split(s, max(1, s.size // 32)):
            points = source + chunk[:, None, None, None] * offset  # (k, rows, columns, 3) mm from the centre
            index = (points / spacing + centre).reshape(-1, 3).T
            total += map_coordinates(data, index, order=1, mode="constant", cval=0.0).reshape(
                chunk.size, rows, columns).sum(axis=0)  # fmt: skip
        images[n] = total * (s[1] - s[0]) * length
    return Projections(images=images, angles_deg=angles, pixel_mm=(pitch_v, pitch_u), geometry="cone",
                       source_to_axis_mm=source_to_axis_mm, source_to_detector_mm=source_to_detector_mm)  # fmt: skip


def radiograph(projections: Projections, index: int = 0) -> np.ndarray:
    """One view as a processed radiograph is shown: superior up, brighter where more is attenuated, in ``[0, 1]``.

    Returns
    -------
    ndarray of float32, shape (Z, U)
        The line integrals (the log-domain image a detector's processing displays) scaled so that their 99.5th
        percentile is 1, rows flipped.
    """
    if not 0 <= index < len(projections):
        raise InputError(f"There are {len(projections)} views; index {index} does not exist.")
    image = projections.images[index][::-1]
    peak = float(np.percentile(image, 99.5)) or 1.0
    return np.clip(image / peak, 0.0, 1.0).astype(np.float32)
