"""Confidence calibration and the operating point, both fitted on validation data only.

- **Temperature scaling** (Guo et al., "On calibration of modern neural networks", ICML 2017): one scalar ``T``
  divides the logits, fitted by minimising the negative log-likelihood. It changes how sure the model claims to
  be, never which images rank above which (AUC is unchanged).
- **Decision threshold**: Youden's J (sensitivity + specificity − 1, maximal) by default, or the highest threshold
  that keeps a target sensitivity (a screening setting where a missed pneumonia costs more than a false alarm).
- **Borderline band**: the images closest to the threshold, where validation shows the verdict is little better
  than a guess, read "borderline: review" instead of a bare verdict (see :func:`choose_band`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import roc_curve

from core.errors import InputError
from core.types import BORDERLINE_ACCURACY

__all__ = [
    "BAND_ACCURACY",
    "BAND_MINIMUM_IMAGES",
    "BAND_WIDEST",
    "band_edges",
    "choose_band",
    "choose_threshold",
    "fit_temperature",
    "in_band",
    "logit",
    "sigmoid",
]

#: The borderline band holds the validation images nearest the threshold that are classified below this accuracy...
BAND_ACCURACY = BORDERLINE_ACCURACY
#: ...and at least this many of them (fewer would make the accuracy a coin toss).
BAND_MINIMUM_IMAGES = 10
#: The widest band, in log-odds either side of the threshold (past it every score of a float is inside).
BAND_WIDEST = 40.0


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large logits."""
    logits = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -logits))


def logit(probabilities: np.ndarray | float) -> np.ndarray:
    """The log-odds of probabilities (±inf at 0 and 1)."""
    p = np.asarray(probabilities, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def _labels_and_scores(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(np.int64).ravel()
    scores = np.asarray(scores, dtype=np.float64).ravel()
    if labels.shape != scores.shape:
        raise InputError(f"Need one label per score; got {labels.size} labels and {scores.size} scores.")
    if not 0 < labels.sum() < labels.size:
        raise InputError("Calibration needs validation images of both classes (NORMAL and PNEUMONIA).")
    if not np.isfinite(scores).all():
        raise InputError("The model gave non-finite outputs on the validation images; it cannot be calibrated.")
    return labels, scores


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature ``T`` minimising the validation negative log-likelihood of ``sigmoid(logits / T)``.

    Parameters
    ----------
    logits : ndarray, shape (N,)
        PNEUMONIA logits of the validation images.
    labels : ndarray of int, shape (N,)

    Returns
    -------
    float
        ``T`` in ``[0.05, 20]``; above 1 the model was over-confident.
    """
    labels, logits = _labels_and_scores(labels, logits)

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        # -[y log s(z) + (1-y) log(1-s(z))] = log(1 + e^z) - y z
        return float(np.mean(np.logaddexp(0.0, z) - labels * z))

    # The NLL is convex in 1/T; a bounded scalar search over log T is exact enough and needs no gradient.
    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def choose_threshold(
    labels: np.ndarray, probabilities: np.ndarray, *, target_sensitivity: float | None = None
) -> float:
    """A decision threshold on the probability of PNEUMONIA, chosen on validation data.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
    probabilities : ndarray, shape (N,)
        Calibrated probabilities of PNEUMONIA.
    target_sensitivity : float, optional
        If given, the highest threshold whose sensitivity reaches it; otherwise Youden's J. Ties between
        thresholds of equal J are broken towards the middle of the tied interval, away from any one image.

    Returns
    -------
    float
        PNEUMONIA when the probability is at least this.
    """
    labels, probabilities = _labels_and_scores(labels, probabilities)
    fpr, tpr, thresholds = roc_curve(labels, probabilities, drop_intermediate=False)
    thresholds = np.minimum(thresholds, 1.0)  # scikit-learn's first threshold is +inf (nothing positive)
    if target_sensitivity is not None:
        if not 0.0 < target_sensitivity <= 1.0:
            raise InputError(f"The target sensitivity must lie in (0, 1]; got {target_sensitivity}.")
        index = int(np.argmax(tpr >= target_sensitivity))  # thresholds decrease, tpr increases
    else:
        index = int(np.argmax(tpr - fpr))
    # Place the threshold halfway between this score and the next lower one, so that the images that define it
    # are not sitting on the boundary.
    lower = thresholds[index + 1] if index + 1 < thresholds.size else 0.0
    return float((thresholds[index] + lower) / 2) if index > 0 else float(thresholds[index])


def choose_band(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> float:
    """The half-width of the borderline band around the threshold, chosen on validation data.

    An image's distance from the threshold is ``|logit(p) - logit(threshold)|``, in log-odds. The band is the set
    of images nearer than ``r``; ``r`` is the largest distance such that the validation images inside the band
    number at least :data:`BAND_MINIMUM_IMAGES` and are classified with accuracy below :data:`BAND_ACCURACY`. Its
    edge lies halfway between the last image inside and the first outside, away from any one image. When even the
    nearest :data:`BAND_MINIMUM_IMAGES` images are classified at that accuracy or better there is no band, nor
    for a threshold of 0 or 1 (a model no better than chance); it is at most :data:`BAND_WIDEST`.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
    probabilities : ndarray, shape (N,)
        Calibrated probabilities of PNEUMONIA of the validation images.
    threshold : float
        The operating threshold on those probabilities (PNEUMONIA when at least it).

    Returns
    -------
    float
        ``r`` in log-odds; ``0.0`` for no band.
    """
    labels, probabilities = _labels_and_scores(labels, probabilities)
    if not 0.0 < threshold < 1.0:  # a model no better than chance on these images: nothing to be near
        return 0.0
    correct = (probabilities >= threshold) == (labels == 1)
    distance = np.abs(logit(probabilities) - logit(threshold))
    order = np.argsort(distance, kind="stable")
    distance, correct = distance[order], correct[order]
    inside = np.arange(1, distance.size + 1)  # the k nearest images
    accuracy = np.cumsum(correct) / inside
    # a band's edge can only fall between two distinct distances (or past the farthest image)
    edge = np.append(distance[1:] > distance[:-1], True)
    candidates = np.flatnonzero(edge & (inside >= BAND_MINIMUM_IMAGES) & (accuracy < BAND_ACCURACY))
    if candidates.size == 0:
        return 0.0
    k = int(candidates[-1])
    if not np.isfinite(distance[k]):  # scores of exactly 0 or 1 inside: the widest band there is
        return BAND_WIDEST
    if k + 1 < distance.size and np.isfinite(distance[k + 1]):
        return float(min((distance[k] + distance[k + 1]) / 2, BAND_WIDEST))
    return float(min(np.nextafter(distance[k], np.inf), BAND_WIDEST))


def in_band(probabilities: np.ndarray | float, threshold: float, band: float) -> np.ndarray:
    """Whether calibrated probabilities lie in the borderline band of half-width ``band`` (log-odds) around the
    threshold; all ``False`` without a band (``band == 0``)."""
    return (band > 0.0) & (np.abs(logit(probabilities) - logit(threshold)) < band)


def band_edges(threshold: float, band: float) -> tuple[float, float]:
    """The borderline band as an interval of probabilities ``(low, high)``; ``(threshold, threshold)`` for none."""
    centre = float(logit(threshold))
    return float(sigmoid(centre - band)), float(sigmoid(centre + band))
