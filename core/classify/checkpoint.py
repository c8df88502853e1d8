"""Model checkpoints that carry their own metadata, written atomically, loaded with ``weights_only=True``.

A checkpoint is a plain dictionary (tensors, strings, numbers, lists, dicts only, so the safe unpickler reads it)::

    {"format": "xray-classifier", "version": 1, "meta": {...}, "state_dict": {...}}

``meta`` says everything needed to use the model without guessing: architecture, input size and pipeline, labels,
temperature, threshold, the data and recipe it was trained with, and its figures. An ensemble
(:class:`~core.classify.models.Ensemble`) adds ``"members"``, how many classifiers its ``state_dict`` holds.
Training checkpoints add the optimiser, scheduler and random-generator states under ``"training"`` so a run can
resume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.classify.data import LABELS
from core.classify.models import ARCHITECTURES, build_model
from core.classify.settings import DEFAULT_MODEL_PATH
from core.errors import ModelError
from core.store.files import write_atomic

__all__ = [
    "DEFAULT_MODEL_PATH",
    "FORMAT",
    "VERSION",
    "architecture_label",
    "load_checkpoint",
    "load_model",
    "save_checkpoint",
]

#: The shipped default model (its model card, ``MODEL_CARD.md``, sits beside it).

FORMAT = "xray-classifier"
VERSION = 1
#: Metadata every usable model checkpoint has.
REQUIRED_META = ("arch", "input_size", "labels", "temperature", "threshold")


def save_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    meta: dict[str, Any],
    training: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write a checkpoint atomically: to a temporary file beside ``path``, then renamed over it.

    A crash or a full disk leaves either the old file or the new one, never half of one.

    Parameters
    ----------
    path : str or Path
    model : nn.Module
    meta : dict
        JSON-like metadata (see the module's docstring).
    training : dict, optional
        Optimiser and scheduler states, epoch, history: what a resumed run needs.
    half : bool
        Store floating-point weights in float16 (half the size; loaded back as float32). For shipping a model,
        not for resuming training.

    Returns
    -------
    Path
    """
    state = {
        k: (v.detach().to(torch.float16) if half and v.is_floating_point() else v.detach()).cpu().clone()
        for k, v in model.state_dict().items()
    }
    payload: dict[str, Any] = {"format": FORMAT, "version": VERSION, "meta": meta, "state_dict": state}
    if training is not None:
        payload["training"] = training
    return write_atomic(path, lambda handle: torch.save(payload, handle))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``) and check that it is one of ours, of this version.

    Raises
    ------
    ModelError
        Missing file, not a checkpoint, another format or version, missing metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"No model file at '{path}'. Train one (python -m core train ...) or pick another file.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds (pickle, zip, runtime) for a file that is not a checkpoint
        raise ModelError(
            f"'{path.name}' is not a readable model checkpoint ({type(error).__name__}: {error})."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"'{path.name}' is not a checkpoint of this application (no '{FORMAT}' header).")
    if payload.get("version") != VERSION:
        raise ModelError(
            f"'{path.name}' is a version {payload.get('version')} checkpoint; this code reads version {VERSION}. "
            "Retrain the model with this version of the application."
        )
    meta = payload.get("meta")
    missing = [key for key in REQUIRED_META if not isinstance(meta, dict) or key not in meta]
    if missing:
        raise ModelError(f"'{path.name}' lacks metadata: {', '.join(missing)}.")
    if tuple(meta["labels"]) != LABELS:
        raise ModelError(f"'{path.name}' was trained for labels {meta['labels']}, not {list(LABELS)}.")
    if meta["arch"] not in ARCHITECTURES:
        raise ModelError(
            f"'{path.name}' uses architecture '{meta['arch']}', which this code does not know "
            f"({', '.join(ARCHITECTURES)})."
        )
    members = meta.get("members", 1)
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        raise ModelError(f"'{path.name}' says it holds {members!r} models; expected a whole number of at least 1.")
    return payload


def architecture_label(meta: dict[str, Any]) -> str:
    """``"xraynet"``, or ``"3 × xraynet"`` for an ensemble of three: a checkpoint's architecture in one phrase."""
    members = meta.get("members", 1)
    return f"{members} × {meta['arch']}" if members > 1 else str(meta["arch"])


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The model of a checkpoint, in evaluation mode and float32, with its metadata.

    Raises
    ------
    ModelError
        As :func:`load_checkpoint`, or weights that do not fit the architecture the code builds.
    """
    payload = load_checkpoint(path)
    meta = payload["meta"]
    model = build_model(meta["arch"], members=meta.get("members", 1))
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(
            f"The weights in '{Path(path).name}' do not fit the '{meta['arch']}' architecture of this code: "
            f"{str(error).splitlines()[0]} Retrain the model with this version of the application."
        ) from error
    return model.eval(), meta
