"""Tomographic reconstruction from parallel-beam views at known angles, slice by slice (scikit-image).

- **FBP** (filtered back-projection, :func:`skimage.transform.iradon`): exact in the limit of many views, fast;
  streaks and blur with few views.
- **SART** (simultaneous algebraic reconstruction, Andersen & Kak 1984, :func:`skimage.transform.iradon_sart`):
  iterative, with non-negativity; better than FBP when views are few.
"""

from __future__ import annotations

import numpy as np
from skimage.transform import iradon, iradon_sart

from core.errors import InputError
from core.reconstruct.projection import Projections
from core.types import Progress, Volume

__all__ = ["METHODS", "fbp", "sart"]

FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann")


def _parallel(projections: Projections, minimum: int) -> tuple[int, int, float]:
    if projections.geometry != "parallel":
        raise InputError(f"Slice-by-slice tomography needs parallel-beam views; these are {projections.geometry}-beam.")
    if len(projections) < minimum:
        raise InputError(f"This method needs at least {minimum} views; got {len(projections)}.")
    _, slices, columns = projections.images.shape
    return slices, columns, projections.pixel_mm[1]


def fbp(projections: Projections, *, filter_name: str = "ramp", spacing_z_mm: float | None = None,
        progress: Progress | None = None) -> Volume:  # fmt: skip
    """Filtered back-projection of every axial slice.

    Parameters
    ----------
    projections : Projections
        Parallel beam, at least 2 views.
    filter_name : str
        One of ``"ramp"``, ``"shepp-logan"``, ``"cosine"``, ``"hamming"``, ``"hann"``.
    spacing_z_mm : float, optional
        Slice spacing of the result; the detector's row pitch by default.
    progress : Progress, optional
        Told the share of slices done (about 2.5 s for 90 views at 128²).

    Returns
    -------
    Volume
        Attenuation in 1/mm, ``(Z, U, U)``; negative values (undershoot) clipped to 0.
    """
    if filter_name not in FILTERS:
        raise InputError(f"Unknown filter '{filter_name}'; choose one of {', '.join(FILTERS)}.")
    slices, columns, pitch = _parallel(projections, 2)
    angles = projections.angles_deg
    out = np.empty((slices, columns, columns), dtype=np.float32)
    for k in range(slices):
        sinogram = projections.images[:, k, :].T.astype(np.float64) / pitch
        out[k] = iradon(sinogram, theta=angles, filter_name=filter_name, circle=True, output_size=columns)
        if progress is not None:
            progress((k + 1) / slices)
    return Volume(data=np.maximum(out, 0.0), spacing_mm=(spacing_z_mm or projections.pixel_mm[0], pitch, pitch),
                  unit="1/mm")  # fmt: skip


def sart(projections: Projections, *, iterations: int = 2, relaxation: float = 0.15,
         progress: Progress | None = None) -> Volume:  # fmt: skip
    """SART on every axial slice, non-negative, started from zero.

    Parameters
    ----------
    projections : Projections
        Parallel beam, at least 1 view.
    iterations : int
        Passes over all views (1-3 is typical).
    relaxation : float
        Step size, in ``(0, 1]``.
    progress : Progress, optional
        Told the share of slices done (it takes seconds: about 10 s for 90 views at 128²).

    Returns
    -------
    Volume
        Attenuation in 1/mm, ``(Z, U, U)``.
    """
    if iterations < 1 or not 0 < relaxation <= 1:
        raise InputError(f"SART needs iterations ≥ 1 and relaxation in (0, 1]; got {iterations}, {relaxation}.")
    slices, columns, pitch = _parallel(projections, 1)
    angles = projections.angles_deg
    out = np.empty((slices, columns, columns), dtype=np.float32)
    for k in range(slices):
        sinogram = projections.images[:, k, :].T.astype(np.float64) / pitch
        estimate = None
        for _ in range(iterations):
            estimate = iradon_sart(sinogram, theta=angles, image=estimate, relaxation=relaxation, clip=(0.0, 1.0))
        out[k] = estimate
        if progress is not None:
            progress((k + 1) / slices)
    return Volume(data=out, spacing_mm=(projections.pixel_mm[0], pitch, pitch), unit="1/mm")


#: Tomography methods by name, with the fewest views each accepts.
METHODS = {"fbp": (fbp, 2), "sart": (sart, 1)}
