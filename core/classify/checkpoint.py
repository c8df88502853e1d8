"""Model checkpoints that carry their own metadata, written atomically, loaded with ``weights_only=True``.

A checkpoint is a plain dictionary (tensors, strings, numbers, lists, dicts only, so the safe unpickler reads it)::

    {"format": "xray-classifier", "version": 1, "meta": {...}, "state_dict": {...}}

``meta`` says everything needed to use the model without guessing: architecture, input size and pipeline, labels,
temperature, threshold, the data and recipe it was trained with, and its figures. An ensemble
(:class:`~core.classify.models.Ensemble`) adds ``"members"``, how many classifiers its ``state_dict`` holds.
Training checkpoints add the optimiser, scheduler and random-generator states under ``"training"`` so a run can
resume. The code reads ``meta`` once, into a :class:`~core.classify.meta.ModelMeta`, and writes one back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.classify.meta import REQUIRED_META, ModelMeta
from core.classify.models import build_model
from core.classify.ood import BUFFER, attach_bank, reference_problem
from core.classify.settings import DEFAULT_MODEL_PATH
from core.errors import ModelError
from core.store.files import write_atomic

__all__ = [
    "DEFAULT_MODEL_PATH",
    "FORMAT",
    "REQUIRED_META",
    "VERSION",
    "ModelMeta",
    "load_checkpoint",
    "load_model",
    "read_meta",
    "save_checkpoint",
]

FORMAT = "xray-classifier"
VERSION = 1


def save_checkpoint(
    path: str | Path,
    *,
    model: nn.Module,
    meta: ModelMeta | Mapping[str, Any],
    training: dict[str, Any] | None = None,
    half: bool = False,
) -> Path:
    """Write a checkpoint atomically: to a temporary file beside ``path``, then renamed over it.

    A crash or a full disk leaves either the old file or the new one, never half of one.

    Parameters
    ----------
    path : str or Path
    model : nn.Module
    meta : ModelMeta or mapping
        The model's metadata; a mapping is read as :meth:`ModelMeta.from_dict` reads a file's. Either way it is
        checked as :func:`load_checkpoint` will check it, so that no file is written that cannot be loaded.
    training : dict, optional
        Optimiser and scheduler states, epoch, history: what a resumed run needs.
    half : bool
        Store floating-point weights in float16 (half the size; loaded back as float32). For shipping a model,
        not for resuming training.

    Returns
    -------
    Path

    Raises
    ------
    ModelError
        Metadata that :meth:`ModelMeta.from_dict` refuses.
    """
    stored = ModelMeta.from_dict(meta.to_dict() if isinstance(meta, ModelMeta) else meta, source=Path(path).name)
    state = {
        k: (v.detach().to(torch.float16) if half and v.is_floating_point() else v.detach()).cpu().clone()
        for k, v in model.state_dict().items()
    }
    payload: dict[str, Any] = {"format": FORMAT, "version": VERSION, "meta": stored.to_dict(), "state_dict": state}
    if training is not None:
        payload["training"] = training
    return write_atomic(path, lambda handle: torch.save(payload, handle))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``), check that it is one of ours, of this version, and read its
    metadata.

    Returns
    -------
    dict
        The file's payload, its ``"meta"`` read into a :class:`ModelMeta` (so the payload is not for
        ``torch.save`` as it is: write checkpoints with :func:`save_checkpoint`).

    Raises
    ------
    ModelError
        Missing file, not a checkpoint, another format or version, metadata that :meth:`ModelMeta.from_dict`
        refuses.
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
    return {**payload, "meta": ModelMeta.from_dict(payload.get("meta"), source=path.name)}


def read_meta(path: str | Path) -> ModelMeta:
    """A checkpoint's metadata, checked, without building its model.

    Raises
    ------
    ModelError
        As :func:`load_checkpoint`.
    """
    return load_checkpoint(path)["meta"]


def load_model(path: str | Path, *, reference: bool = True) -> tuple[nn.Module, ModelMeta]:
    """The model of a checkpoint, in evaluation mode and float32, with its metadata.

    Parameters
    ----------
    path : str or Path
    reference : bool
        Load the out-of-distribution reference (:mod:`core.classify.ood`); without it the model and its metadata
        have none (how ``fit-ood`` repairs a broken one).

    Raises
    ------
    ModelError
        As :func:`load_checkpoint`, weights that do not fit the architecture the code builds, or an
        out-of-distribution reference that does not fit the model.
    """
    payload = load_checkpoint(path)
    meta: ModelMeta = payload["meta"]
    model = build_model(meta.arch, members=meta.members)
    state = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    bank = state.pop(BUFFER, None)
    if not reference:
        bank, meta = None, meta.with_(ood=None)
    problem = reference_problem(model, bank, meta.ood)  # checked before the weights: it names the repair
    if problem:
        raise ModelError(
            f"'{Path(path).name}' has an unusable out-of-distribution reference ({problem}): refit it "
            "(python -m core fit-ood --model ... --data ...) or retrain the model."
        )
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelError(
            f"The weights in '{Path(path).name}' do not fit the '{meta.arch}' architecture of this code: "
            f"{str(error).splitlines()[0]} Retrain the model with this version of the application."
        ) from error
    if bank is not None:
        attach_bank(model, bank)
    # channels-last weights: the layout CPU convolutions run fastest in (half the time of a Lite0 pass at 224 px)
    return model.to(memory_format=torch.channels_last).eval(), meta
