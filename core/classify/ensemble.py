"""Deep ensembles: several trained classifiers of one recipe combined into one checkpoint that averages their logits.

    python -m core ensemble --models RUN1/model.pt RUN2/model.pt RUN3/model.pt --data DIR --out ensemble.pt

The members must differ only in their seed and must have been validated on the same patients (same data, same
validation split): the ensemble's temperature and threshold are fitted on that validation set, which no member
trained on; the test split is evaluated afterwards and only reported. Members validated on other splits are refused,
since one member's validation patients would be another's training patients and the ensemble's figures would flatter
it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import torch

from core.classify.checkpoint import ModelMeta, load_model, read_meta, save_checkpoint
from core.classify.data import load_images
from core.classify.models import Ensemble
from core.classify.ood import attach_bank, reference_images
from core.classify.train import TrainConfig, finalize, model_splits
from core.classify.transforms import model_input
from core.errors import InputError

__all__ = ["build_ensemble", "combine"]

#: Metadata that must be the same in every member for the ensemble to be one model.
_SHARED = ("arch", "input_size", "input_pipeline", "labels", "data")


def _validation_seed(recipe: dict[str, Any]) -> int:
    return TrainConfig.from_recipe(recipe, data="").validation_seed


def _apart_from_seeds(recipe: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in recipe.items() if k not in ("seed", "split_seed")}


def combine(checkpoints: Sequence[str | Path], out: str | Path, *, half: bool = False) -> ModelMeta:
    """Write an (uncalibrated) ensemble of trained checkpoints to ``out``; calibrate it with ``finalize`` next.

    Parameters
    ----------
    checkpoints : sequence of str or Path
        Two or more single-model checkpoints of the same recipe, apart from the seed, and the same validation split.
    out : str or Path
    half : bool
        Store the weights in float16 (calibrate after that, on the weights as stored).

    Returns
    -------
    ModelMeta
        The ensemble's metadata: the first member's, with ``members``, ``member_seeds``, ``member_epochs`` and the
        members' summed ``training_seconds``; its ``history`` is the first member's.

    Raises
    ------
    InputError
        Fewer than two members, a member that is itself an ensemble, or members that differ in more than the seed.
    ModelError
        A file that is not a usable checkpoint.
    """
    paths = [Path(p) for p in checkpoints]
    if len(paths) < 2:
        raise InputError(f"An ensemble needs at least two models; got {len(paths)}.")
    metas = [read_meta(p) for p in paths]
    first = metas[0]
    for path, meta in zip(paths, metas, strict=True):
        if meta.members != 1:
            raise InputError(f"'{path}' is already an ensemble; combine the single models it was made of.")
        differing = [key for key in _SHARED if getattr(meta, key) != getattr(first, key)]
        if _apart_from_seeds(meta.recipe) != _apart_from_seeds(first.recipe):
            differing.append("recipe (beyond the seed)")
        if _validation_seed(meta.recipe) != _validation_seed(first.recipe):  # the rest of the split: recipe
            differing.append("validation split (train them with the same --split-seed)")
        if differing:
            raise InputError(
                f"'{path}' differs from '{paths[0]}' in {', '.join(differing)}: an ensemble's members must be "
                "trained alike, on the same data, and validated on the same patients."
            )
    members = [load_model(p)[0] for p in paths]
    for member in members:
        attach_bank(member, None)  # the ensemble's out-of-distribution reference is its own (build_ensemble)
    ensemble = Ensemble(members)
    meta = first.with_(
        validation=None,
        test=None,
        threshold_rule=None,
        members=len(members),
        member_seeds=tuple(m.recipe["seed"] for m in metas),
        member_epochs=tuple(m.epoch for m in metas),
        training_seconds=sum(m.training_seconds or 0.0 for m in metas),
        temperature=1.0,
        threshold=0.5,
        borderline=0.0,
        ood=None,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        software={"torch": str(torch.__version__)},
    )
    save_checkpoint(out, model=ensemble, meta=meta, half=half)
    return meta


def build_ensemble(
    checkpoints: Sequence[str | Path], *, data: str | Path, out: str | Path, half: bool = False
) -> ModelMeta:
    """An ensemble calibrated on its members' validation split, written to ``out``, then reported on test.

    As at the end of training, the test split (when the data folder has one) is evaluated after every choice is
    made and only stored in the metadata, for comparison with other models.

    Parameters
    ----------
    checkpoints : sequence of str or Path
        As :func:`combine`.
    data : str or Path
        The data folder the members trained on (checked against their fingerprint).
    out : str or Path
    half : bool
        Store float16 weights.

    Returns
    -------
    ModelMeta
        The calibrated ensemble's metadata, with its ``validation`` and (when there is a test split) ``test`` figures.

    Raises
    ------
    InputError
        As :func:`combine`, or a data folder other than the members' (:func:`~core.classify.train.model_splits`).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        raw = Path(scratch) / "ensemble.pt"
        meta = combine(checkpoints, raw, half=half)
        config, splits = model_splits(meta, data)
        prepare = partial(model_input, size=config.input_size)
        validation = load_images(splits.validation, prepare=prepare)
        test = load_images(splits.test, prepare=prepare) if splits.test else None
        return finalize(raw, validation=validation, test=test, out=out, half=half,
                        reference=reference_images(splits.train, prepare=prepare, seed=config.seed),
                        target_sensitivity=config.target_sensitivity)  # fmt: skip
