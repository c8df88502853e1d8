"""Evaluating a saved model on a split of a data folder: every figure a report needs, in one dictionary."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.classify.calibration import in_band, sigmoid
from core.classify.checkpoint import load_model
from core.classify.data import SPLITS, count_labels, load_images, scan_dataset
from core.classify.metrics import binary_metrics, bootstrap_interval, expected_calibration_error, roc_points
from core.classify.transforms import model_input
from core.errors import InputError

__all__ = ["evaluate_arrays", "evaluate_model", "predict_logits"]


@torch.inference_mode()
def predict_logits(model: nn.Module, images: np.ndarray | torch.Tensor, *, batch_size: int = 256) -> np.ndarray:
    """PNEUMONIA logits of prepared images.

    Parameters
    ----------
    model : nn.Module
        In evaluation mode.
    images : ndarray or Tensor of uint8, shape (N, S, S)
        As :func:`~core.classify.data.load_images` gives them.
    batch_size : int

    Returns
    -------
    ndarray of float64, shape (N,)
    """
    images = torch.as_tensor(images)
    device = next(model.parameters()).device
    out = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].unsqueeze(1).float().div_(255.0)
        out.append(model(batch.to(device, memory_format=torch.channels_last)).double().cpu())
    return torch.cat(out).numpy()


def evaluate_arrays(
    logits: np.ndarray,
    labels: np.ndarray,
    *,
    temperature: float,
    threshold: float,
    band: float = 0.0,
    bootstrap: bool = True,
) -> dict[str, Any]:
    """All reported figures of a model's logits on labelled images.

    Those of :func:`~core.classify.metrics.binary_metrics`, plus ``ece`` (after temperature scaling), ``roc`` (the
    ROC curve's points, when both classes are present), ``borderline`` (with a band: how many images fall in it,
    and the accuracy of those inside and outside it) and, with ``bootstrap``, ``ci95``: 95 % percentile intervals
    of accuracy and AUC.
    """
    probabilities = sigmoid(np.asarray(logits) / temperature)
    figures = binary_metrics(labels, probabilities, threshold=threshold)
    figures["ece"] = expected_calibration_error(labels, probabilities)
    if 0 < int(np.sum(labels)) < len(labels):
        figures["roc"] = roc_points(labels, probabilities)
    if band > 0.0:
        figures["borderline"] = borderline_figures(labels, probabilities, threshold=threshold, band=band)
    if bootstrap:
        figures["ci95"] = bootstrap_interval(labels, probabilities, threshold=threshold)
    return figures


def borderline_figures(
    labels: np.ndarray, probabilities: np.ndarray, *, threshold: float, band: float
) -> dict[str, float | int | None]:
    """How many images fall in the borderline band, and how often the verdict is right inside and outside it.

    Returns
    -------
    dict
        ``count`` (in the band), ``n``, ``accuracy_inside`` and ``accuracy_outside`` (``None`` for an empty side).
    """
    labels = np.asarray(labels).astype(bool)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    correct = (probabilities >= threshold) == labels
    inside = in_band(probabilities, threshold, band)

    def accuracy(mask: np.ndarray) -> float | None:
        return float(correct[mask].mean()) if mask.any() else None

    return {"count": int(inside.sum()), "n": int(labels.size), "accuracy_inside": accuracy(inside),
            "accuracy_outside": accuracy(~inside)}  # fmt: skip


def evaluate_model(model_path: str | Path, data: str | Path, *, split: str = "test") -> dict[str, Any]:
    """Evaluate a checkpoint on one split of a data folder, with its own temperature and threshold.

    Parameters
    ----------
    model_path : str or Path
    data : str or Path
        A data folder laid out as :func:`~core.classify.data.scan_dataset` expects (only ``split`` must exist).
    split : str
        ``"test"`` for the reported figures.

    Returns
    -------
    dict
        ``accuracy, sensitivity, specificity, precision, f1, auc, n, threshold, confusion, ece, ci95`` and
        ``model`` (file, architecture, epoch, creation time), ``split``, ``counts``, ``seconds``.
    """
    if split not in SPLITS:
        raise InputError(f"Unknown split '{split}'; choose one of {', '.join(SPLITS)}.")
    started = time.perf_counter()
    model, meta = load_model(model_path)
    records = scan_dataset(data, splits=(split,))[split]
    images, labels = load_images(records, prepare=partial(model_input, size=meta.input_size))
    logits = predict_logits(model, images)
    figures = evaluate_arrays(logits, labels, temperature=meta.temperature, threshold=meta.threshold,
                              band=meta.borderline)  # fmt: skip
    return {
        **figures,
        "split": split,
        "counts": count_labels(records),
        "model": {
            "file": Path(model_path).name,
            "arch": meta.arch,
            "members": meta.members,
            "epoch": meta.epoch,
            "created": meta.created,
            "temperature": meta.temperature,
        },
        "seconds": time.perf_counter() - started,
    }
