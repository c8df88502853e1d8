"""How unlike the training images an image is: an out-of-distribution (OOD) score from the model's own features.

The training images are paediatric frontal chest X-rays from one hospital; users upload adults, other hospitals'
films, laterals, CT slices, photographs. The classifier answers NORMAL or PNEUMONIA for all of them, so each verdict
comes with a score of how unfamiliar the image is to the model:

- **Features**: the input of each classifier's final linear layer (its globally pooled penultimate features),
  recorded during the verdict's own forward pass by a :class:`FeatureTap`.
- **Score**: the cosine distance from those features to their ``k``-th nearest neighbour (``k`` =
  :data:`NEIGHBOURS`) among the features of a fixed, seeded sample of :data:`BANK_SIZE` training images (Sun et al.
  2022, "Out-of-distribution detection with deep nearest neighbors"); an ensemble's score is its members' mean.
- **Threshold**: on validation images (patients never in the bank), the score that at most :data:`FLAGGED_SHARE`
  of them exceed. An image above it is *unfamiliar*, and its verdict is presented as unreliable.

The method was chosen over the Mahalanobis distance to the training classes' means (Lee et al. 2018) and the energy
score (Liu et al. 2020) on images the model never met (adult X-rays, CT slices, simulated laterals, photographs):
``benchmarks/bench_ood.py`` prints the comparison. On the shipped model the energy score, which a single-logit
model's confidence alone decides, barely separates them, and Mahalanobis distances of the raw features are dominated
by their scale.

The bank lives in the checkpoint as a buffer of the model (``ood_bank``, float16, ``(members, bank, features)``,
unit vectors), so every writer that saves the model keeps it; the rest (``k``, the threshold, what it was fitted
on) is the metadata's ``ood``. A model without them gives no score.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.classify.data import ImageRecord, load_images
from core.classify.models import Ensemble
from core.errors import InputError

__all__ = [
    "BANK_SIZE",
    "BUFFER",
    "FLAGGED_SHARE",
    "NEIGHBOURS",
    "FeatureTap",
    "attach_bank",
    "bank_indices",
    "extract_features",
    "fit_ood",
    "knn_distance",
    "ood_threshold",
    "reference_images",
    "reference_problem",
]

#: Training images whose features are kept as the reference.
BANK_SIZE = 1000
#: The score is the distance to this nearest reference image.
NEIGHBOURS = 10
#: At most this share of validation images is flagged.
FLAGGED_SHARE = 0.05
#: The name of the model's buffer that holds the reference features.
BUFFER = "ood_bank"
METHOD = "k-nearest-neighbour cosine distance of the penultimate features"


def feature_layers(model: nn.Module) -> list[nn.Linear]:
    """Each classifier's final linear layer, in member order (one for a single model)."""
    members = model.members if isinstance(model, Ensemble) else [model]
    layers = []
    for member in members:
        linear = [module for module in member.modules() if isinstance(module, nn.Linear)]
        if not linear:
            raise InputError(f"{type(member).__name__} has no final linear layer to read features from.")
        layers.append(linear[-1])
    return layers


class FeatureTap:
    """Records the penultimate features of a model's forward passes, for the thread that asks.

    Hooks are put once on each member's final linear layer; they record only inside :meth:`recording`, and only
    the first forward pass there (one tensor per member), so that later passes in the same block (faithfulness
    perturbations) do not replace the verdict's. Several threads may share the model: each records its own pass.
    The hooks are plain functions, so a ``copy.deepcopy`` of the model (the explainer's private copy) keeps
    them, and a heat map's forward pass records too.
    """

    def __init__(self, model: nn.Module) -> None:
        self._local = threading.local()
        layers = feature_layers(model)
        local, count = self._local, len(layers)

        def hook(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            sink = getattr(local, "sink", None)
            if sink is not None and len(sink) < count:
                sink.append(args[0].detach().float().clone())

        for layer in layers:
            layer.register_forward_pre_hook(hook)

    @contextmanager
    def recording(self) -> Iterator[list[torch.Tensor]]:
        """A block whose first forward pass is recorded: the yielded list then holds ``(B, D)`` per member. Blocks
        nest: an inner one records its own first pass, and the outer one goes on after it."""
        sink: list[torch.Tensor] = []
        outer = getattr(self._local, "sink", None)
        self._local.sink = sink
        try:
            yield sink
        finally:
            self._local.sink = outer


#: What the metadata's ``ood`` holds (:func:`fit_ood`).
SETTINGS = ("method", "neighbours", "bank", "threshold", "flagged_share", "validation")


def reference_problem(model: nn.Module, bank: torch.Tensor | None, settings: dict[str, Any] | None) -> str | None:
    """What is wrong with a checkpoint's out-of-distribution reference for ``model``, in a phrase; ``None`` when it
    is usable (or absent: features and settings both missing)."""
    if bank is None and settings is None:
        return None
    if bank is None or settings is None:
        return "reference features without their settings, or the reverse"
    missing = [key for key in SETTINGS if key not in settings]
    if missing:
        return f"its settings lack {', '.join(missing)}"
    widths = [layer.in_features for layer in feature_layers(model)]
    if bank.ndim != 3 or bank.shape[0] != len(widths) or bank.shape[2] != widths[0]:
        return f"features of shape {tuple(bank.shape)} where ({len(widths)}, images, {widths[0]}) fit this model"
    if bank.shape[1] < settings["neighbours"]:
        return f"{bank.shape[1]} reference images for the distance to the {settings['neighbours']}th nearest"
    if not torch.isfinite(bank).all():
        return "features that are not finite numbers"
    return None


def knn_distance(features: torch.Tensor, bank: torch.Tensor, neighbours: int) -> np.ndarray:
    """The OOD score: cosine distance to the ``neighbours``-th nearest bank vector, averaged over members.

    Parameters
    ----------
    features : Tensor, shape (M, N, D)
    bank : Tensor, shape (M, K, D)
        Unit vectors.
    neighbours : int

    Returns
    -------
    ndarray of float64, shape (N,)
        From 0 (an image like a training image) to 2.
    """
    similarity = torch.bmm(F.normalize(features.float(), dim=-1), bank.float().transpose(1, 2))  # (M, N, K)
    kth = similarity.topk(min(neighbours, bank.shape[1]), dim=-1).values[..., -1]
    return (1.0 - kth).mean(dim=0).double().numpy()


@torch.inference_mode()
def extract_features(model: nn.Module, images: np.ndarray, *, batch_size: int = 128) -> torch.Tensor:
    """Penultimate features of prepared images.

    Parameters
    ----------
    model : nn.Module
        In evaluation mode.
    images : ndarray of uint8, shape (N, S, S)
        As :func:`~core.classify.data.load_images` gives them.

    Returns
    -------
    Tensor of float32, shape (M, N, D)
    """
    tap = feature_layers(model)
    recorded: list[torch.Tensor] = []
    handles = [layer.register_forward_pre_hook(lambda _m, args: recorded.append(args[0].detach().float()))
               for layer in tap]  # fmt: skip
    try:
        parts = []
        tensor = torch.as_tensor(images)
        for start in range(0, len(tensor), batch_size):
            recorded.clear()
            batch = tensor[start : start + batch_size].unsqueeze(1).float().div_(255.0)
            model(batch.contiguous(memory_format=torch.channels_last))
            parts.append(torch.stack(recorded))
        return torch.cat(parts, dim=1)
    finally:
        for handle in handles:
            handle.remove()


def bank_indices(count: int, *, size: int = BANK_SIZE, seed: int = 0) -> np.ndarray:
    """Which of ``count`` training images make the reference: a seeded choice of ``size`` (all when fewer)."""
    if count <= size:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size, replace=False))


def reference_images(records: Sequence[ImageRecord], *, prepare: Callable[[np.ndarray], np.ndarray],
                     seed: int) -> np.ndarray:  # fmt: skip
    """The bank's training images (:func:`bank_indices` of ``records``), loaded and prepared: ``(K, S, S)`` uint8."""
    return load_images([records[i] for i in bank_indices(len(records), seed=seed)], prepare=prepare)[0]


def ood_threshold(scores: np.ndarray) -> float:
    """The smallest of ``scores`` that at most :data:`FLAGGED_SHARE` of them exceed (flag: score > threshold):
    ``floor(share × n)`` of them exceed it, ties apart; none when there are fewer than 1 / share."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64))
    allowed = int(np.floor(FLAGGED_SHARE * len(ordered) + 1e-9))
    return float(ordered[len(ordered) - allowed - 1])


def attach_bank(model: nn.Module, bank: torch.Tensor | None) -> None:
    """Give ``model`` its reference features as the buffer :data:`BUFFER` (``None`` removes it)."""
    model._buffers.pop(BUFFER, None)
    if bank is not None:
        model.register_buffer(BUFFER, bank.to(torch.float16))


def fit_ood(model: nn.Module, *, reference: np.ndarray, validation: np.ndarray,
            neighbours: int = NEIGHBOURS) -> dict[str, Any]:  # fmt: skip
    """Fit the OOD reference: attach the bank to ``model`` and return the metadata's ``ood``.

    Parameters
    ----------
    model : nn.Module
        In evaluation mode.
    reference : ndarray of uint8, shape (K, S, S)
        The training images of the bank (:func:`bank_indices` chooses them).
    validation : ndarray of uint8, shape (N, S, S)
        Images of patients not in the bank: the threshold is chosen on them.
    neighbours : int

    Returns
    -------
    dict
        ``method``, ``neighbours``, ``bank`` (its size), ``threshold``, ``flagged_share`` (the share allowed), and
        ``validation`` (``n``, ``flagged``, the scores' ``median`` and ``p95``).
    """
    if len(reference) < neighbours:
        raise InputError(f"The OOD reference needs at least {neighbours} training images; got {len(reference)}.")
    bank = F.normalize(extract_features(model, reference), dim=-1).to(torch.float16)  # as stored
    attach_bank(model, bank)
    scores = knn_distance(extract_features(model, validation), bank, neighbours)
    threshold = ood_threshold(scores)
    return {
        "method": METHOD,
        "neighbours": neighbours,
        "bank": int(bank.shape[1]),
        "threshold": threshold,
        "flagged_share": FLAGGED_SHARE,
        "validation": {
            "n": len(scores),
            "flagged": int((scores > threshold).sum()),
            "median": float(np.median(scores)),
            "p95": float(np.quantile(scores, 0.95)),
        },
    }
