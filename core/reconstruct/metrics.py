"""How close a reconstruction is to the truth: overlap of masks, fidelity of intensities."""

from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from core.errors import InputError

__all__ = ["dice", "iou", "psnr", "ssim"]


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


def psnr(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB, the peak being the truth's range."""
    truth, estimate = (x.astype(np.float64) for x in _pair(truth, estimate))
    return float(peak_signal_noise_ratio(truth, estimate, data_range=float(np.ptp(truth)) or 1.0))


def ssim(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Structural similarity of two volumes (3D windows), the data range being the truth's."""
    truth, estimate = (x.astype(np.float64) for x in _pair(truth, estimate))
    return float(structural_similarity(truth, estimate, data_range=float(np.ptp(truth)) or 1.0))
