"""Preprocessing steps as values, and a pipeline that chains them and keeps every intermediate stage.

A step is a frozen dataclass holding its parameters (random ones hold their seed) whose :meth:`apply` calls the
pure function of :mod:`core.preprocess`. Being values, steps compare, hash and print, so a pipeline can be cached,
stored with a model and shown to a user as a recipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from core import preprocess
from core.errors import InputError
from core.quality import Quality, compare

__all__ = [
    "Clahe",
    "HistogramEqualization",
    "MedianFilter",
    "MinMaxNormalization",
    "Morphology",
    "Resize",
    "SaltAndPepper",
    "Stage",
    "Step",
    "ZScoreNormalization",
    "assess_stage",
    "assess_stages",
    "extend_pipeline",
    "run_pipeline",
    "to_display",
]


class Step(Protocol):
    """What every preprocessing step provides."""

    #: Whether the input must be in [0, 1] (steps that quantise or treat 0 and 1 as black and white).
    needs_unit_range: ClassVar[bool]
    #: The output's range: "unit" ([0, 1]), "real" (any value, e.g. z-scores) or "same" (as the input's).
    output_range: ClassVar[str]
    #: Whether the step changes the geometry (size): the reference is then carried through it for comparisons.
    is_geometric: ClassVar[bool]

    @property
    def label(self) -> str: ...

    def apply(self, pixels: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class SaltAndPepper:
    """Inject salt-and-pepper noise (a demonstration of the median filter, not a cleaning step)."""

    amount: float = 0.05
    salt_fraction: float = 0.5
    seed: int = 0
    needs_unit_range: ClassVar[bool] = True
    output_range: ClassVar[str] = "unit"
    is_geometric: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return f"Salt-and-pepper noise ({self.amount:.0%} of pixels)"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return preprocess.add_salt_and_pepper(
            pixels, amount=self.amount, salt_fraction=self.salt_fraction, seed=self.seed
        )


@dataclass(frozen=True)
class MedianFilter:
    kernel_size: int = 3
    needs_unit_range: ClassVar[bool] = True
    output_range: ClassVar[str] = "same"
    is_geometric: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return f"Median filter {self.kernel_size}×{self.kernel_size}"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return preprocess.median_filter(pixels, kernel_size=self.kernel_size)


@dataclass(frozen=True)
class Clahe:
    clip_limit: float = 2.0
    tile_grid: int = 8
    needs_unit_range: ClassVar[bool] = True
    output_range: ClassVar[str] = "unit"
    is_geometric: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return f"CLAHE (clip {self.clip_limit:g}, {self.tile_grid}×{self.tile_grid} tiles)"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return preprocess.apply_clahe(pixels, clip_limit=self.clip_limit, tile_grid=self.tile_grid)


@dataclass(frozen=True)
class HistogramEqualization:
    needs_unit_range: ClassVar[bool] = True
    output_range: ClassVar[str] = "unit"
    is_geometric: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return "Histogram equalisation"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return preprocess.equalize_histogram(pixels)


@dataclass(frozen=True)
class Morphology:
    operation: preprocess.MorphologyOperation = "open"
    shape: preprocess.StructuringShape = "ellipse"
    size: int = 5
    needs_unit_range: ClassVar[bool] = False
    output_range: ClassVar[str] = "same"
    is_geometric: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return f"Morphology: {self.operation} ({self.shape} {self.size}×{self.size})"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return preprocess.morphology(pixels, operation=self.operation, shape=self.shape, size=self.size)


@dataclass(frozen=True)
class MinMaxNormalization:
    low_percentile: float = 0.0
    high_percentile: float = 100.0
    needs_unit_range: ClassVar[bool] = False
    output_range: ClassVar[str] = "unit"
    is_geometric: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return f"Min–max normalisation (percentiles {self.low_percentile:g}–{self.high_percentile:g})"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return preprocess.normalize_minmax(
            pixels, low_percentile=self.low_percentile, high_percentile=self.high_percentile
        )


@dataclass(frozen=True)
class ZScoreNormalization:
    needs_unit_range: ClassVar[bool] = False
    output_range: ClassVar[str] = "real"
    is_geometric: ClassVar[bool] = False

    @property
    def label(self) -> str:
        return "Z-score normalisation (mean 0, s.d. 1)"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return preprocess.standardize(pixels)


@dataclass(frozen=True)
class Resize:
    height: int = 224
    width: int = 224
    keep_aspect: bool = True
    needs_unit_range: ClassVar[bool] = False
    output_range: ClassVar[str] = "same"
    is_geometric: ClassVar[bool] = True

    @property
    def label(self) -> str:
        how = "keeping aspect, padded" if self.keep_aspect else "stretched"
        return f"Resize to {self.width}×{self.height} ({how})"

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        return preprocess.resize(pixels, size=(self.height, self.width), keep_aspect=self.keep_aspect)


@dataclass(frozen=True)
class Stage:
    """One point of a pipeline run: the input (``step is None``) or the output of a step.

    Attributes
    ----------
    step : Step or None
    pixels : ndarray of float32, shape (H, W)
        Read-only.
    in_unit_range : bool
        Whether ``pixels`` follow the [0, 1] convention (False after z-score).
    """

    step: Step | None
    pixels: np.ndarray
    in_unit_range: bool

    @property
    def label(self) -> str:
        return "Input" if self.step is None else self.step.label


def run_pipeline(pixels: np.ndarray, steps: Sequence[Step]) -> tuple[Stage, ...]:
    """Apply ``steps`` in order, keeping every intermediate image.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        The input image in ``[0, 1]``.
    steps : sequence of Step

    Returns
    -------
    tuple of Stage
        ``len(steps) + 1`` stages: the input, then the output of each step. The last is the result.
    """
    current = np.array(pixels, dtype=np.float32)  # a private copy, so the caller's array is never shared
    current.setflags(write=False)
    stages: tuple[Stage, ...] = (Stage(step=None, pixels=current, in_unit_range=True),)
    for step in steps:
        stages = extend_pipeline(stages, step)
    return stages


def extend_pipeline(stages: Sequence[Stage], step: Step) -> tuple[Stage, ...]:
    """Apply one more step to the last stage of a pipeline run (lets callers cache runs by prefix).

    Parameters
    ----------
    stages : sequence of Stage
        A run from :func:`run_pipeline` (at least the input stage).
    step : Step

    Returns
    -------
    tuple of Stage
        ``stages`` followed by the new stage.
    """
    last = stages[-1]
    if step.needs_unit_range and not last.in_unit_range:
        raise InputError(
            f"'{step.label}' expects an image in [0, 1] but follows z-score normalisation; "
            "move the z-score to the end of the pipeline."
        )
    output = step.apply(last.pixels)
    output.setflags(write=False)
    in_unit_range = {"unit": True, "real": False}.get(step.output_range, last.in_unit_range)
    return (*stages, Stage(step=step, pixels=output, in_unit_range=in_unit_range))


def assess_stage(stages: Sequence[Stage], index: int) -> Quality | None:
    """PSNR and SSIM of one stage against the pipeline's input.

    The input is carried through the geometric steps (resizing) up to that stage so that shapes match: a resize is
    thus judged by what it changes beyond its geometry. A stage outside [0, 1] (after z-score) gets ``None``: PSNR
    and SSIM on another intensity scale mean nothing.

    Parameters
    ----------
    stages : sequence of Stage
        As returned by :func:`run_pipeline`.
    index : int
        Which stage; 0 is the input (perfect against itself).

    Returns
    -------
    Quality or None
    """
    stage = stages[index]
    if not stage.in_unit_range:
        return None
    reference = stages[0].pixels
    for earlier in stages[1 : index + 1]:
        if earlier.step is not None and earlier.step.is_geometric:
            reference = earlier.step.apply(reference)
    return compare(reference, stage.pixels)


def assess_stages(stages: Sequence[Stage]) -> list[Quality | None]:
    """:func:`assess_stage` for every stage, in order."""
    return [assess_stage(stages, index) for index in range(len(stages))]


def to_display(stage: Stage) -> np.ndarray:
    """The stage's pixels mapped to [0, 1] for display (z-scored images are min–max stretched)."""
    if stage.in_unit_range:
        return stage.pixels
    return preprocess.normalize_minmax(stage.pixels)
