"""Confidence calibration and the operating point, both fitted on validation data only.

- **Temperature scaling** (Guo et al., "On calibration of modern neural networks", ICML 2017): one scalar ``T``
  divides the logits, fitted by minimising the negative log-likelihood. It changes how sure the model claims to
  be, never which images rank above which (AUC is unchanged).
- **Decision threshold**: Youden's J (sensitivity + specificity − 1, maximal) by default, or the highest threshold
  that keeps a target sensitivity (a screening setting where a missed pneumonia costs more than a false alarm).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import roc_curve

from core.errors import InputError

__all__ = ["choose_threshold", "fit_temperature", "sigmoid"]


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large logits."""
    logits = np.asarray(logits, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -logits))


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
