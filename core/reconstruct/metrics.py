"""How close a reconstruction is to the truth: overlap of masks, fidelity of intensities."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core.errors import InputError

__all__ = ["dice", "hausdorff95", "iou", "psnr", "ssim"]


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise InputError(f"Compared volumes must have the same shape; got {a.shape} and {b.shape}.")
    return a, b


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient ``2|A∩B| / (|A|+|B|)`` of two masks; 1.0 when both are empty."""
    a, b = (x.astype(bool) for x in _pair(a, b))
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union ``|A∩B| / |A∪B|`` of two masks; 1.0 when both are empty."""
    a, b = (x.astype(bool) for x in _pair(a, b))
    union = int((a | b).sum())
    return 1.0 if union == 0 else int((a & b).sum()) / union


def hausdorff95(a: np.ndarray, b: np.ndarray) -> float | None:
    """The 95th-percentile Hausdorff distance between two 2D masks' outlines, in pixels: the larger of the two
    directed distances' 95th percentiles (MONAI's ``compute_hausdorff_distance(percentile=95)``). ``None`` when
    either mask is empty."""
    from scipy import ndimage

    a, b = (x.astype(bool) for x in _pair(a, b))
    if not a.any() or not b.any():
        return None
    edges = [x & ~ndimage.binary_erosion(x) for x in (a, b)]
    to_b = ndimage.distance_transform_edt(~edges[1])[edges[0]]
    to_a = ndimage.distance_transform_edt(~edges[0])[edges[1]]
    return float(max(np.percentile(to_b, 95), np.percentile(to_a, 95)))


def psnr(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, the peak being the truth's range."""
    truth, estimate = (x.astype(np.float64) for x in _pair(truth, estimate))
    return float(peak_signal_noise_ratio(truth, estimate, data_range=float(np.ptp(truth)) or 1.0))


def ssim(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Structural similarity of two volumes (3D windows), the data range being the truth's."""
    truth, estimate = (x.astype(np.float64) for x in _pair(truth, estimate))
    return float(structural_similarity(truth, estimate, data_range=float(np.ptp(truth)) or 1.0))
