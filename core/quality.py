"""Image quality figures that show what a filter did: PSNR and SSIM against a reference (scikit-image).

Both assume the project's convention (values in ``[0, 1]``, so the data range is 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core.errors import InputError

__all__ = ["Quality", "compare"]


@dataclass(frozen=True)
class Quality:
    """How close an image is to its reference.

    Attributes
    ----------
    psnr_db : float
        Peak signal-to-noise ratio in decibels; ``inf`` for identical images. Higher is closer.
    ssim : float
        Structural similarity (Wang et al. 2004) in ``[-1, 1]``; 1 for identical images.
    """

    psnr_db: float
    ssim: float


def compare(reference: np.ndarray, image: np.ndarray) -> Quality:
    """PSNR and SSIM of ``image`` against ``reference``.

    Parameters
    ----------
    reference, image : ndarray, shape (H, W)
        Same shape, values in ``[0, 1]``.

    Returns
    -------
    Quality
    """
    reference, image = np.asarray(reference, dtype=np.float64), np.asarray(image, dtype=np.float64)
    if reference.shape != image.shape or reference.ndim != 2:
        raise InputError(
            f"Quality is measured between two greyscale images of the same shape; got {reference.shape} "
            f"and {image.shape}."
        )
    if np.array_equal(reference, image):
        return Quality(psnr_db=math.inf, ssim=1.0)
    psnr = float(peak_signal_noise_ratio(reference, image, data_range=1.0))
    ssim = float(structural_similarity(reference, image, data_range=1.0))
    return Quality(psnr_db=psnr, ssim=ssim)
