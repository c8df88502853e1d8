"""The classifier's settings and their choices, without torch: what the command line, the Train page and a checkpoint's
recipe are made of, so that ``python -m core --help`` and the commands that train nothing start at once.

The names of the choices are written here; the modules that implement them (:mod:`core.classify.models`,
:mod:`core.classify.transforms`, :mod:`core.explain`) define exactly these (a test compares them). Each field of
:class:`TrainConfig` carries its command-line help, so that ``python -m core train``'s options are made from the
fields rather than copied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import InputError

__all__ = [
    "ARCHITECTURE_NAMES",
    "AUGMENTATION_LEVELS",
    "BALANCE_MODES",
    "DEFAULT_MODEL_PATH",
    "HEAT_MAP_METHODS",
    "SELECTIONS",
    "TrainConfig",
]

#: The shipped default model.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "data" / "models" / "default.pt"
#: :data:`core.classify.models.ARCHITECTURES`' keys.
ARCHITECTURE_NAMES = ("xraynet", "resnet18", "resnet50", "vgg16", "efficientnet_lite0")
#: :data:`core.classify.transforms.AUGMENTATIONS`' keys.
AUGMENTATION_LEVELS = ("none", "standard", "strong")
#: :data:`core.explain.CAM_METHODS`' keys.
HEAT_MAP_METHODS = ("Grad-CAM", "Grad-CAM++", "Score-CAM", "Eigen-CAM")
BALANCE_MODES = ("loss", "sampler", "none")
SELECTIONS = ("val_loss", "last")


def _option(help: str, **argparse_options: Any) -> dict[str, Any]:
    """A field's command-line help and argparse options (``flag`` renames the option)."""
    return {"help": help, **argparse_options}


@dataclass(frozen=True)
class TrainConfig:
    """The recipe of a training run (stored in the checkpoint).

    Attributes
    ----------
    data : str
        Data folder with ``train/`` (and optionally ``test/``) holding ``NORMAL/`` and ``PNEUMONIA/``.
    out : str
        Output folder.
    arch : str
        One of :data:`ARCHITECTURE_NAMES`.
    epochs : int
    input_size : int
        Side of the square model input, in pixels.
    batch_size : int
    learning_rate : float
        Peak learning rate of the one-cycle schedule (AdamW).
    weight_decay : float
    balance : str
        Class imbalance: ``"loss"`` weights each class's images to equal total weight, ``"sampler"`` draws
        classes equally often, ``"none"`` does neither.
    augment : str
        One of :data:`AUGMENTATION_LEVELS` (see :data:`core.classify.transforms.AUGMENTATIONS`).
    pretrained : bool
        Start from ImageNet weights (installed for ``efficientnet_lite0``; torchvision's need a network once).
    seed : int
        Seeds initialisation, shuffling, augmentation and dropout, and the validation split unless ``split_seed``
        is given.
    split_seed : int, optional
        Seeds the patient-disjoint validation split alone, so that runs with different seeds are validated (and
        compared, or averaged) on the same images; ``seed`` when omitted.
    validation_fraction : float
        Share of ``train/`` patients held out for validation.
    target_sensitivity : float, optional
        Operating point: the highest threshold reaching this validation sensitivity; Youden's J when omitted.
    snapshot_epochs : tuple of int
        Epochs after which a calibrated snapshot is kept as ``epochNNN.pt``.
    ema_decay : float, optional
        Keep an exponential moving average of the weights (and batch-norm statistics), updated after every step
        with this decay (e.g. 0.999: an average over the last ~1000 steps); validation, checkpoints and the result
        then use the averaged weights (Polyak averaging; Izmailov et al. 2018 on flatter, more robust optima).
    select : str
        Which epoch becomes the model: ``"val_loss"`` the lowest validation loss, ``"last"`` the last one (the
        end of the one-cycle schedule), which leaves the choice to no noisy validation figure.
    mixup : float, optional
        Mixup's ``alpha`` (Zhang et al. 2018): each training image is blended with another image of its batch,
        ``λ x₁ + (1 − λ) x₂``, and so is its target, with ``λ ~ Beta(alpha, alpha)`` per image; it discourages
        confident extrapolation away from the training images. Off when omitted.
    per_class_limit : int, optional
        Use at most this many ``train/`` images per class (and proportionally fewer for validation and test):
        for quick trials and tests.
    threads : int, optional
        CPU threads for torch; torch's default when omitted.
    device : str, optional
        ``"cpu"``, ``"cuda"``...; a GPU when one is available when omitted.
    """

    data: str = field(metadata=_option("folder with train/ (and test/) holding NORMAL/ and PNEUMONIA/"))
    out: str = field(metadata=_option("output folder (checkpoints, history.json, model.pt)"))
    arch: str = field(default="xraynet", metadata=_option("architecture", choices=ARCHITECTURE_NAMES))
    epochs: int = field(default=50, metadata=_option("training epochs"))
    input_size: int = field(default=128, metadata=_option("model input side in pixels"))
    batch_size: int = field(default=64, metadata=_option("images per step (all processes together)"))
    learning_rate: float = field(default=2e-3, metadata=_option("peak learning rate (one-cycle)", flag="--lr"))
    weight_decay: float = field(default=0.05, metadata=_option("AdamW's weight decay"))
    balance: str = field(default="loss", metadata=_option("class imbalance handling", choices=BALANCE_MODES))
    augment: str = field(default="standard", metadata=_option("augmentation level", choices=AUGMENTATION_LEVELS))
    pretrained: bool = field(
        default=False,
        metadata=_option("start from ImageNet weights (installed for efficientnet_lite0; others need a network)"),
    )
    seed: int = field(default=0, metadata=_option("seed of initialisation, shuffling and augmentation"))
    split_seed: int | None = field(
        default=None, metadata=_option("seed of the validation split alone (default: --seed)")
    )
    validation_fraction: float = field(default=0.1, metadata=_option("share of train/ patients held out"))
    target_sensitivity: float | None = field(
        default=None, metadata=_option("threshold rule: this validation sensitivity (default: Youden's J)")
    )
    snapshot_epochs: tuple[int, ...] = field(
        default=(), metadata=_option("epochs to keep calibrated snapshots of", flag="--snapshots", nargs="*")
    )
    ema_decay: float | None = field(
        default=None,
        metadata=_option(
            "average the weights over steps (e.g. 0.999); the averaged model is validated and kept",
            flag="--ema",
            metavar="DECAY",
        ),
    )
    select: str = field(
        default="val_loss",
        metadata=_option("the epoch that becomes the model: lowest validation loss, or the last", choices=SELECTIONS),
    )
    mixup: float | None = field(
        default=None,
        metadata=_option(
            "blend training images and their targets in pairs, weight ~ Beta(ALPHA, ALPHA) (e.g. 0.4)", metavar="ALPHA"
        ),
    )
    per_class_limit: int | None = field(
        default=None, metadata=_option("at most this many train images per class (quick runs)")
    )
    threads: int | None = field(
        default=None, metadata=_option("CPU threads for torch (default: OMP_NUM_THREADS, else torch's choice)")
    )
    device: str | None = field(default=None, metadata=_option("cpu, cuda, cuda:1... (default: a GPU if there is one)"))

    def __post_init__(self) -> None:
        problems = []
        if self.arch not in ARCHITECTURE_NAMES:
            problems.append(f"unknown architecture '{self.arch}' (choose {', '.join(ARCHITECTURE_NAMES)})")
        if isinstance(self.augment, bool):  # the recipe of runs before the augmentation levels
            object.__setattr__(self, "augment", "standard" if self.augment else "none")
        if self.augment not in AUGMENTATION_LEVELS:
            problems.append(f"augment must be one of {', '.join(AUGMENTATION_LEVELS)}, not '{self.augment}'")
        if self.balance not in BALANCE_MODES:
            problems.append(f"balance must be one of {', '.join(BALANCE_MODES)}, not '{self.balance}'")
        if self.epochs < 1 or self.batch_size < 2:
            problems.append("epochs must be at least 1 and the batch size at least 2")
        if not 32 <= self.input_size <= 1024:
            problems.append(f"input size must lie in 32..1024 px, not {self.input_size}")
        if not self.learning_rate > 0 or self.weight_decay < 0:
            problems.append("the learning rate must be positive and the weight decay not negative")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            problems.append(f"the EMA decay must lie in (0, 1), not {self.ema_decay}")
        if self.select not in SELECTIONS:
            problems.append(f"select must be one of {', '.join(SELECTIONS)}, not '{self.select}'")
        if self.mixup is not None and not 0.0 < self.mixup <= 10.0:
            problems.append(f"mixup's alpha must lie in (0, 10], not {self.mixup}")
        if self.per_class_limit is not None and self.per_class_limit < 4:
            problems.append("per_class_limit must be at least 4")
        if problems:
            raise InputError("Invalid training settings: " + "; ".join(problems) + ".")

    @classmethod
    def from_recipe(cls, recipe: dict[str, Any], *, data: str | Path, out: str | Path = "") -> TrainConfig:
        """The settings of a stored recipe (a checkpoint's ``ModelMeta.recipe``) over ``data``: the same splits."""
        return cls(data=str(data), out=str(out), **{**recipe, "snapshot_epochs": tuple(recipe["snapshot_epochs"])})

    @property
    def validation_seed(self) -> int:
        """The seed of the validation split."""
        return self.seed if self.split_seed is None else self.split_seed

    def command_line(self, **shown: str) -> str:
        """The ``python -m core train`` command that trains this recipe: every setting away from its default, with
        ``DATA`` and ``RUN`` for the folders (the flags are the fields' own, as the command line is built).
        ``shown`` writes some settings as placeholders, e.g. ``seed="SEED"``."""
        parts = ["python -m core train --data DATA --out RUN"]
        for spec in dataclasses.fields(self):
            value = shown.get(spec.name, getattr(self, spec.name))
            if spec.name in ("data", "out", "threads", "device") or (spec.name not in shown and value == spec.default):
                continue
            flag = spec.metadata.get("flag", "--" + spec.name.replace("_", "-"))
            if value is True:
                parts.append(flag)
            else:
                parts.append(f"{flag} {' '.join(map(str, value)) if isinstance(value, tuple) else value}")
        return " ".join(parts)

    def recipe(self) -> dict[str, Any]:
        """The settings that define what is trained (no paths, threads or device)."""
        recipe = dataclasses.asdict(self)
        for key in ("data", "out", "threads", "device"):
            recipe.pop(key)
        recipe["snapshot_epochs"] = list(self.snapshot_epochs)
        return recipe
