"""Training a classifier: seeded, resumable, with the model chosen, calibrated and thresholded on validation only.

One run writes into its output folder::

    last.pt          every epoch: weights, optimiser, scheduler, RNG state and history (to resume after a crash)
    best.pt          the epoch with the lowest validation loss so far
    epochNNN.pt      calibrated snapshots at the requested epochs and the last one (the seed's 10/20/50 table)
    model.pt         the result: best.pt (or the last epoch, select="last") with temperature, threshold and figures
                     in its metadata
    history.json     per-epoch training and validation loss and accuracy

The validation set is carved out of ``train/`` by patient (:func:`~core.classify.data.split_by_patient`).
Everything that is chosen (the epoch, the temperature, the threshold) is chosen on it. The test split, when the
data folder has one, is evaluated once at the very end and only reported.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.classify.calibration import choose_band, choose_threshold, fit_temperature, sigmoid
from core.classify.checkpoint import ModelMeta, load_checkpoint, load_model, save_checkpoint
from core.classify.data import (
    LABELS,
    ImageRecord,
    count_labels,
    fingerprint,
    load_images,
    scan_dataset,
    split_by_patient,
)
from core.classify.distributed import World, all_sum, barrier, process_group, shard, world_from_environment
from core.classify.evaluate import evaluate_arrays, predict_logits
from core.classify.metrics import binary_metrics
from core.classify.models import build_model
from core.classify.ood import bank_indices, fit_ood, reference_images
from core.classify.settings import BALANCE_MODES, SELECTIONS, TrainConfig
from core.classify.state import TrainingState
from core.classify.transforms import AUGMENTATIONS, INPUT_PIPELINE, augment, mix, model_input, sample_augmentation
from core.errors import InputError
from core.store.files import write_atomic

__all__ = [
    "BALANCE_MODES",
    "SELECTIONS",
    "Splits",
    "TrainConfig",
    "data_fingerprint",
    "dataset_splits",
    "finalize",
    "fit_ood_reference",
    "model_splits",
    "train",
]

# ----------------------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Splits:
    """The images a run trains on, chooses with, and reports on."""

    train: tuple[ImageRecord, ...]
    validation: tuple[ImageRecord, ...]
    test: tuple[ImageRecord, ...]


def _limit(records: Sequence[ImageRecord], per_class: int, seed: int) -> tuple[ImageRecord, ...]:
    """At most ``per_class`` records of each label, a seeded choice of whole patients."""
    rng = np.random.default_rng(seed)
    chosen: list[ImageRecord] = []
    for label in range(len(LABELS)):
        of_label = [r for r in records if r.label == label]
        patients = sorted({r.patient for r in of_label})
        rng.shuffle(patients)
        rank = {p: i for i, p in enumerate(patients)}
        chosen += sorted(of_label, key=lambda r: (rank[r.patient], r.path))[:per_class]
    return tuple(sorted(chosen, key=lambda r: r.path))


def dataset_splits(config: TrainConfig) -> Splits:
    """Training, patient-disjoint validation and test records of a run (test empty without ``test/``)."""
    root = Path(config.data)
    train_all = scan_dataset(root, splits=("train",))["train"]
    try:
        test = scan_dataset(root, splits=("test",))["test"]
    except InputError:
        test = ()  # a folder without test/ still trains; nothing is reported on test then
    train, validation = split_by_patient(train_all, validation_fraction=config.validation_fraction,
                                       seed=config.validation_seed)  # fmt: skip
    if config.per_class_limit:
        share = config.validation_fraction / (1 - config.validation_fraction)
        small = max(2, round(config.per_class_limit * share))
        train = _limit(train, config.per_class_limit, config.validation_seed)
        validation = _limit(validation, small, config.validation_seed)
        test = _limit(test, small, config.validation_seed) if test else ()
    for name, records in (("training", train), ("validation", validation)):
        if min(count_labels(records).values()) < 2:
            raise InputError(
                f"The {name} part of '{root}/train' has fewer than 2 images of a class ({count_labels(records)}); "
                "both NORMAL and PNEUMONIA need more images."
            )
    return Splits(train, validation, test)


def data_fingerprint(splits: Splits, root: str | Path) -> str:
    """A short hash of the training and validation files' names and sizes: tells whether two runs saw the same data."""
    return fingerprint(splits.train + splits.validation, root)


def model_splits(meta: ModelMeta, data: str | Path) -> tuple[TrainConfig, Splits]:
    """A trained model's settings and splits, rebuilt from its recipe on ``data``.

    Raises
    ------
    InputError
        ``data`` is not the data the model was trained on (other files in ``train/``): its validation split
        cannot be rebuilt from it.
    """
    config = TrainConfig.from_recipe(meta.recipe, data=data)
    splits = dataset_splits(config)
    if data_fingerprint(splits, data) != meta.data.get("fingerprint"):
        raise InputError(
            f"'{data}' is not the data the model was trained on (other files in train/): its validation split "
            "cannot be rebuilt from it."
        )
    return config, splits


def fit_ood_reference(checkpoint: str | Path, *, data: str | Path, out: str | Path | None = None) -> ModelMeta:
    """Give a trained model its out-of-distribution score (as training now does at its end): the reference from
    its training images, the threshold from its validation images.

    Parameters
    ----------
    checkpoint : str or Path
    data : str or Path
        The data folder the model was trained on (checked against its fingerprint).
    out : str or Path, optional
        Where to write the result; over ``checkpoint`` when omitted. Its weights keep their precision.

    Returns
    -------
    ModelMeta
    """
    model, meta = load_model(checkpoint, reference=False)  # a broken reference is replaced, not refused
    config, splits = model_splits(meta, data)
    prepare = partial(model_input, size=config.input_size)
    meta = meta.with_(ood=fit_ood(model, reference=reference_images(splits.train, prepare=prepare, seed=config.seed),
                                  validation=load_images(splits.validation, prepare=prepare)[0]))  # fmt: skip
    half = all(v.dtype == torch.float16 for v in load_checkpoint(checkpoint)["state_dict"].values()
               if v.is_floating_point())  # fmt: skip
    save_checkpoint(out or checkpoint, model=model, meta=meta, half=half)
    return meta


# ----------------------------------------------------------------------------------------------------------------
# Epochs


def _sample_weights(labels: torch.Tensor) -> torch.Tensor:
    """Per-image weights giving each class the same total weight, averaging 1."""
    counts = torch.bincount(labels, minlength=len(LABELS)).double()
    per_class = labels.numel() / (len(LABELS) * counts.clamp(min=1))
    return per_class[labels].float()


def _epoch_order(labels: torch.Tensor, balance: str, generator: torch.Generator) -> torch.Tensor:
    if balance == "sampler":
        return torch.multinomial(_sample_weights(labels), labels.numel(), replacement=True, generator=generator)
    return torch.randperm(labels.numel(), generator=generator)


def _train_epoch(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    generator: torch.Generator,
    device: torch.device,
    world: World,
    average: torch.optim.swa_utils.AveragedModel | None = None,
) -> tuple[float, float]:
    model.train()
    weights = _sample_weights(labels) if config.balance == "loss" else torch.ones(labels.numel())
    order = shard(_epoch_order(labels, config.balance, generator), world)  # the same order on every process
    if world.size > 1:  # each process draws its own augmentation from here on
        generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=generator)) + world.rank)
    batch_size = _batch_per_process(config, world)
    total_loss, total_correct, seen = 0.0, 0, 0
    for start in range(0, order.numel(), batch_size):
        index = order[start : start + batch_size]
        if index.numel() < 2:  # batch normalisation needs two images
            continue
        batch = images[index].unsqueeze(1).float().div_(255.0)
        if AUGMENTATIONS[config.augment] is not None:
            params = sample_augmentation(index.numel(), generator=generator, **AUGMENTATIONS[config.augment])
            batch = augment(batch, params, noise=torch.randn(batch.shape, generator=generator))
        target, weight = labels[index].float(), weights[index]
        if config.mixup:
            batch, target, weight = mix(batch, target, weight, alpha=config.mixup, generator=generator)
        batch = batch.to(device, memory_format=torch.channels_last)
        target, weight = target.to(device), weight.to(device)
        logits = model(batch)
        loss = F.binary_cross_entropy_with_logits(logits, target, weight=weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if average is not None:
            average.update_parameters(model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model)
        total_loss += float(loss.detach()) * index.numel()
        total_correct += int(((logits >= 0) == (target >= 0.5)).sum())
        seen += index.numel()
    total_loss, total_correct, seen = all_sum([total_loss, total_correct, seen], world)
    return total_loss / seen, total_correct / seen


def _batch_per_process(config: TrainConfig, world: World) -> int:
    """The configured batch is the global one: each of ``world.size`` processes takes its share."""
    return max(2, config.batch_size // world.size)


def _validation_loss(logits: np.ndarray, labels: np.ndarray) -> float:
    """Class-balanced binary cross-entropy: the same criterion whatever the run's balance mode."""
    weights = _sample_weights(torch.as_tensor(labels)).double().numpy()
    per_image = np.logaddexp(0.0, logits) - labels * logits
    return float(np.sum(weights * per_image) / np.sum(weights))


# ----------------------------------------------------------------------------------------------------------------
# Calibration and reporting


def finalize(
    checkpoint: str | Path,
    *,
    validation: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray] | None = None,
    target_sensitivity: float | None = None,
    out: str | Path | None = None,
    half: bool = False,
    history: list[dict[str, Any]] | None = None,
    reference: np.ndarray | None = None,
) -> ModelMeta:
    """Fit temperature, threshold and borderline band on validation images (and, given ``reference``, the
    out-of-distribution score), then (only then) report figures on test images.

    Parameters
    ----------
    checkpoint : str or Path
        A model checkpoint (``best.pt`` or a snapshot).
    validation : (images, labels)
        Prepared validation images ``(N, S, S)`` uint8 and labels ``(N,)``.
    test : (images, labels), optional
        Reported in the metadata under ``"test"``; never used to choose anything.
    target_sensitivity : float, optional
        See :func:`~core.classify.calibration.choose_threshold`.
    out : str or Path, optional
        Where to write the calibrated checkpoint; over ``checkpoint`` when omitted.
    half : bool
        Store weights as float16.
    history : list of dict, optional
        The whole run's per-epoch records, replacing those up to the checkpoint's epoch.
    reference : ndarray of uint8, shape (K, S, S), optional
        Training images (:func:`~core.classify.ood.bank_indices` chooses them) for the out-of-distribution score
        (:func:`~core.classify.ood.fit_ood`, thresholded on the validation images); without them the checkpoint's
        own reference, if any, is kept.

    Returns
    -------
    ModelMeta
        The checkpoint's new metadata.
    """
    model, meta = load_model(checkpoint)
    val_images, val_labels = validation
    val_logits = predict_logits(model, val_images)
    temperature = fit_temperature(val_logits, val_labels)
    val_probabilities = sigmoid(val_logits / temperature)
    threshold = choose_threshold(val_labels, val_probabilities, target_sensitivity=target_sensitivity)
    band = choose_band(val_labels, val_probabilities, threshold)
    calibration = {"temperature": temperature, "threshold": threshold, "band": band}
    meta = meta.with_(
        temperature=temperature,
        threshold=threshold,
        borderline=band,
        threshold_rule=f"sensitivity >= {target_sensitivity}" if target_sensitivity else "Youden's J",
        validation=evaluate_arrays(val_logits, val_labels, **calibration),
    )
    if history is not None:
        meta = meta.with_(history=history)
    if reference is not None:
        meta = meta.with_(ood=fit_ood(model, reference=reference, validation=val_images))
    if test is not None:
        test_logits = predict_logits(model, test[0])
        meta = meta.with_(test=evaluate_arrays(test_logits, test[1], **calibration))
    save_checkpoint(out or checkpoint, model=model, meta=meta, half=half)
    return meta


# ----------------------------------------------------------------------------------------------------------------
# The run


def _device(config: TrainConfig, world: World) -> torch.device:
    if config.device:
        return torch.device(config.device)
    if torch.cuda.is_available():
        return torch.device("cuda", world.local_rank if world.size > 1 else 0)
    return torch.device("cpu")


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def _resume_state(config: TrainConfig, last: Path) -> dict[str, Any] | None:
    if not last.exists():
        return None
    payload = load_checkpoint(last)
    defaults = TrainConfig(data="", out="").recipe()
    saved = {**defaults, **payload["meta"].recipe}  # settings added since then: their defaults
    differences = sorted(k for k in set(saved) | set(config.recipe()) if saved.get(k) != config.recipe().get(k))
    if differences:
        raise InputError(
            f"'{last.parent}' holds a run with other settings ({', '.join(differences)} differ). Resume it with the "
            "same settings, or choose a new output folder."
        )
    return payload


def train(
    config: TrainConfig,
    *,
    log: Callable[[str], None] = lambda message: None,
    on_epoch: Callable[[dict[str, Any]], None] = lambda record: None,
) -> Path:
    """Train, select, calibrate and report a model; resume where a previous run in ``config.out`` stopped.

    Parameters
    ----------
    config : TrainConfig
    log : callable
        Receives progress lines.
    on_epoch : callable
        Receives each epoch's record: ``epoch, train_loss, train_accuracy, val_loss, val_accuracy, val_auc, lr,
        seconds, images_per_second``.

    Returns
    -------
    Path
        ``model.pt`` in ``config.out``.
    """
    world = world_from_environment()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = _device(config, world)
    with process_group(world, device):
        return _train(config, world=world, device=device, log=log if world.is_main else lambda message: None,
                      on_epoch=on_epoch)  # fmt: skip


def _train(
    config: TrainConfig,
    *,
    world: World,
    device: torch.device,
    log: Callable[[str], None],
    on_epoch: Callable[[dict[str, Any]], None],
) -> Path:
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(config.data)

    splits = dataset_splits(config)
    log(
        f"data: train {count_labels(splits.train)}, validation {count_labels(splits.validation)} (patient-disjoint, "
        f"seed {config.validation_seed}), test {count_labels(splits.test) if splits.test else 'none'}"
    )
    prepare = partial(model_input, size=config.input_size)
    started = time.perf_counter()
    train_images, train_labels = (torch.from_numpy(a) for a in load_images(splits.train, prepare=prepare))
    val_images, val_labels = load_images(splits.validation, prepare=prepare)
    log(f"loaded {len(splits.train) + len(splits.validation)} images in {time.perf_counter() - started:.1f} s")

    torch.manual_seed(config.seed)
    model = build_model(config.arch, pretrained=config.pretrained).to(device, memory_format=torch.channels_last)
    per_process = len(splits.train) // world.size
    batch = _batch_per_process(config, world)
    steps = sum(1 for s in range(0, per_process, batch) if per_process - s >= 2)
    state = TrainingState(config, model, steps_per_epoch=steps)
    meta = ModelMeta(
        arch=config.arch,
        input_size=config.input_size,
        input_pipeline=INPUT_PIPELINE,
        labels=LABELS,
        positive_label="PNEUMONIA",
        temperature=1.0,
        threshold=0.5,
        recipe=config.recipe(),
        data={
            "root_name": root.name,
            "fingerprint": data_fingerprint(splits, root),
            "train": count_labels(splits.train),
            "validation": count_labels(splits.validation),
            "validation_patients": len({r.patient for r in splits.validation}),
        },
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        software={"torch": str(torch.__version__)},
    )
    resumed = _resume_state(config, out / "last.pt")
    if resumed is not None:
        state.restore(resumed)
        meta = meta.with_(created=resumed["meta"].created)
        log(f"resuming after epoch {state.epochs_done} of {config.epochs}")
    evaluated, history = state.evaluated, state.history  # what is validated, saved and shipped; the epochs' records
    net = model
    if world.size > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        log(f"distributed: {world.size} processes ({'NCCL' if device.type == 'cuda' else 'gloo'})")

    for epoch in range(state.epochs_done + 1, config.epochs + 1):
        tick = time.perf_counter()
        generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
        train_loss, train_accuracy = _train_epoch(
            net, train_images, train_labels, config=config, optimizer=state.optimizer, scheduler=state.scheduler,
            generator=generator, device=device, world=world, average=state.average,
        )  # fmt: skip
        if not world.is_main:  # process 0 validates, saves and logs
            barrier(world)
            continue
        evaluated.eval()
        val_logits = predict_logits(evaluated, val_images)
        seconds = time.perf_counter() - tick
        state.seconds += seconds
        val_figures = binary_metrics(val_labels, sigmoid(val_logits), threshold=0.5)
        record = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_accuracy": train_accuracy,
            "val_loss": _validation_loss(val_logits, val_labels),
            "val_accuracy": val_figures["accuracy"],
            "val_auc": val_figures["auc"],
            "lr": state.scheduler.get_last_lr()[0],
            "seconds": seconds,
            "images_per_second": len(splits.train) / seconds,
        }
        history.append(record)
        hardware = _hardware(device) if world.size == 1 else f"{world.size} processes × {_hardware(device)}"
        epoch_meta = meta.with_(epoch=epoch, history=history, training_seconds=state.seconds, hardware=hardware)
        if record["val_loss"] < state.best_loss:
            state.best_loss = record["val_loss"]
            save_checkpoint(out / "best.pt", model=evaluated, meta=epoch_meta)
        if epoch in config.snapshot_epochs or epoch == config.epochs:  # the last epoch too: best vs last
            save_checkpoint(out / f"epoch{epoch:03d}.pt", model=evaluated, meta=epoch_meta)
        save_checkpoint(out / "last.pt", model=model, meta=epoch_meta, training=state.saved())
        _write_json(out / "history.json", history)
        log(
            f"epoch {epoch}/{config.epochs}: train loss {train_loss:.4f} acc {train_accuracy:.3f} | val loss "
            f"{record['val_loss']:.4f} acc {record['val_accuracy']:.3f} auc {record['val_auc']:.4f} | "
            f"{seconds:.0f} s, {record['images_per_second']:.0f} img/s"
        )
        on_epoch(record)
        barrier(world)

    if not world.is_main:
        return out / "model.pt"
    log("calibrating on validation, then reporting on test")
    validation = (val_images, val_labels)
    test = load_images(splits.test, prepare=prepare) if splits.test else None
    for epoch in sorted({*config.snapshot_epochs, config.epochs}):
        if (out / f"epoch{epoch:03d}.pt").exists():
            finalize(out / f"epoch{epoch:03d}.pt", validation=validation, test=test,
                     target_sensitivity=config.target_sensitivity)  # fmt: skip
    chosen = out / ("best.pt" if config.select == "val_loss" else f"epoch{config.epochs:03d}.pt")
    reference = train_images[torch.from_numpy(bank_indices(len(train_images), seed=config.seed))].numpy()
    meta = finalize(chosen, validation=validation, test=test, out=out / "model.pt", reference=reference,
                    target_sensitivity=config.target_sensitivity, history=history)  # fmt: skip
    log(
        f"model.pt: epoch {meta.epoch}, temperature {meta.temperature:.3f}, threshold {meta.threshold:.3f}; "
        f"validation accuracy {meta.validation['accuracy']:.4f} AUC {meta.validation['auc']:.4f}"
        + (f"; test accuracy {meta.test['accuracy']:.4f} AUC {meta.test['auc']:.4f}" if meta.test else "")
    )
    return out / "model.pt"


def _write_json(path: Path, value: object) -> None:
    write_atomic(path, json.dumps(value, indent=1).encode())
