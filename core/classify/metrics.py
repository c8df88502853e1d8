"""Figures of a binary classifier (PNEUMONIA = positive), as a radiologist reads them, with their uncertainty.

Sensitivity, specificity and AUC are reported beside accuracy, because accuracy alone hides the trade-off that
matters clinically (the test split is 62.5 % pneumonia: a model that always says PNEUMONIA is 62.5 % accurate).
Intervals are percentile bootstraps over images (Efron & Tibshirani 1993), seeded.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score, roc_curve

from core.errors import InputError

__all__ = ["binary_metrics", "bootstrap_interval", "expected_calibration_error", "roc_points"]

_BOOTSTRAP_BLOCK_VALUES = 2_000_000  # resampled values held at once (16 MB of float64)


def _check(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(np.int64).ravel()
    probabilities = np.asarray(probabilities, dtype=np.float64).ravel()
    if labels.shape != probabilities.shape or labels.size == 0:
        raise InputError(
            f"Need as many labels as probabilities, at least one; got {labels.size} and {probabilities.size}."
        )
    if not np.isin(labels, (0, 1)).all():
        raise InputError("Labels must be 0 (NORMAL) or 1 (PNEUMONIA).")
    if not np.isfinite(probabilities).all() or probabilities.min() < 0 or probabilities.max() > 1:
        raise InputError("Probabilities must be finite and lie in [0, 1].")
    return labels, probabilities


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _auc(labels: np.ndarray, probabilities: np.ndarray) -> float | None:
    return float(roc_auc_score(labels, probabilities)) if 0 < labels.sum() < labels.size else None


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray, *, threshold: float) -> dict[str, object]:
    """Accuracy, sensitivity, specificity, precision, F1, AUC and the confusion matrix at a threshold.

    Parameters
    ----------
    labels : ndarray of int, shape (N,)
        1 for PNEUMONIA, 0 for NORMAL.
    probabilities : ndarray of float, shape (N,)
        Probability of PNEUMONIA.
    threshold : float
        PNEUMONIA when the probability is at least this.

    Returns
    -------
    dict
        ``accuracy, sensitivity, specificity, precision, f1, auc`` (``None`` where undefined, e.g. AUC with one
        class), ``n``, ``threshold`` and ``confusion``: ``[[TN, FP], [FN, TP]]`` (rows: truth NORMAL, PNEUMONIA;
        columns: predicted).
    """
    labels, probabilities = _check(labels, probabilities)
    predicted = probabilities >= threshold
    tp = int(np.sum(predicted & (labels == 1)))
    tn = int(np.sum(~predicted & (labels == 0)))
    fp = int(np.sum(predicted & (labels == 0)))
    fn = int(np.sum(~predicted & (labels == 1)))
    sensitivity, precision = _ratio(tp, tp + fn), _ratio(tp, tp + fp)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return {
        "n": int(labels.size),
        "threshold": float(threshold),
        "accuracy": (tp + tn) / labels.size,
        "sensitivity": sensitivity,
        "specificity": _ratio(tn, tn + fp),
        "precision": precision,
        "f1": f1,
        "auc": _auc(labels, probabilities),
        "confusion": [[tn, fp], [fn, tp]],
    }


def bootstrap_interval(
    labels: np.ndarray,
    probabilities: np.ndarray,
    *,
    threshold: float,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of accuracy, AUC, sensitivity and specificity, resampling images with
    replacement.

    Parameters
    ----------
    labels, probabilities : ndarray, shape (N,)
    threshold : float
    resamples : int
    level : float
        Coverage, e.g. 0.95.
    seed : int

    Returns
    -------
    dict
        ``{"accuracy": (low, high), "auc": ..., "sensitivity": ..., "specificity": ...}``; resamples without one
        of the classes are skipped for the figures that need it.
    """
    labels, probabilities = _check(labels, probabilities)
    rng = np.random.default_rng(seed)
    called = probabilities >= threshold
    correct = called == (labels == 1)
    accuracies, aucs, sensitivities, specificities = [], [], [], []
    block = max(1, _BOOTSTRAP_BLOCK_VALUES // labels.size)  # resamples at a time: memory bounded, numpy vectorised
    for start in range(0, resamples, block):
        # the same draws, in the same order, as one resample at a time
        index = rng.integers(0, labels.size, (min(block, resamples - start), labels.size))
        accuracies.append(correct[index].mean(axis=1))
        aucs.append(_rank_aucs(labels[index], probabilities[index]))
        positive, hit = labels[index] == 1, called[index]
        with np.errstate(invalid="ignore", divide="ignore"):  # a resample without one class has no such rate
            sensitivities.append((hit & positive).sum(axis=1) / positive.sum(axis=1))
            specificities.append((~hit & ~positive).sum(axis=1) / (~positive).sum(axis=1))
    tail = (1 - level) / 2 * 100

    def interval(values: np.ndarray) -> tuple[float, float] | None:
        values = values[~np.isnan(values)]  # resamples with a single class have no AUC
        if not values.size:
            return None
        low, high = np.percentile(values, [tail, 100 - tail])
        return float(low), float(high)

    return {
        "accuracy": interval(np.concatenate(accuracies)),
        "auc": interval(np.concatenate(aucs)),
        "sensitivity": interval(np.concatenate(sensitivities)),
        "specificity": interval(np.concatenate(specificities)),
    }


def _rank_aucs(labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """The AUC of each row (NaN where a row has one class): the Mann-Whitney U statistic of the positives' ranks
    over ``n_pos × n_neg``, ties at their average rank: what ``roc_auc_score`` gives, for many rows at once."""
    ranks = rankdata(probabilities, axis=1)
    positives = labels.sum(axis=1)
    negatives = labels.shape[1] - positives
    u = (ranks * labels).sum(axis=1) - positives * (positives + 1) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((positives > 0) & (negatives > 0), u / (positives * negatives), np.nan)


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, *, bins: int = 15) -> float:
    """Expected calibration error (Guo et al. 2017) of the predicted class's confidence, in equal-width bins.

    The weighted mean, over bins of confidence, of ``|accuracy - mean confidence|``: 0 for a perfectly calibrated
    model, whose "90 % sure" is right 90 % of the time.

    Parameters
    ----------
    labels, probabilities : ndarray, shape (N,)
        Probabilities of PNEUMONIA; the confidence is that of the class each one favours (``>= 0.5``).
    bins : int

    Returns
    -------
    float
    """
    labels, probabilities = _check(labels, probabilities)
    predicted = probabilities >= 0.5
    confidence = np.where(predicted, probabilities, 1 - probabilities)
    correct = predicted == (labels == 1)
    # Confidences lie in [0.5, 1]; bins over [0, 1] as in Guo et al., the lower half simply stays empty.
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def roc_points(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, list[float]]:
    """The ROC curve: ``{"fpr": [...], "tpr": [...], "thresholds": [...]}`` (needs both classes)."""
    labels, probabilities = _check(labels, probabilities)
    if not 0 < labels.sum() < labels.size:
        raise InputError("A ROC curve needs images of both classes.")
    fpr, tpr, thresholds = roc_curve(labels, probabilities)
    return {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": np.minimum(thresholds, 1.0).tolist()}
