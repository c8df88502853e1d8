"""Verdicts on X-rays with a saved model: the path the app and ``python -m core predict`` share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.classify.calibration import band_edges, sigmoid
from core.classify.checkpoint import DEFAULT_MODEL_PATH, ModelMeta, load_model
from core.classify.data import LABELS
from core.classify.ood import BUFFER, FeatureTap, knn_distance
from core.classify.transforms import model_input
from core.store.files import file_version
from core.types import BORDERLINE_ACCURACY, OutOfDistribution, Prediction, XRay

__all__ = ["Classifier"]


class Classifier:
    """A loaded model with its calibration and threshold; build it once, then call :meth:`predict` per image.

    Parameters
    ----------
    path : str or Path
        A checkpoint; the shipped default model when omitted.
    """

    def __init__(self, path: str | Path = DEFAULT_MODEL_PATH) -> None:
        self.path = Path(path)
        self.model, meta = load_model(self.path)
        #: The checkpoint's metadata.
        self.meta: ModelMeta = meta
        #: The first 12 hex digits of the checkpoint file's SHA-256: which weights decided, whatever the file name.
        self.version: str = file_version(self.path)
        self.input_size: int = meta.input_size
        self.temperature: float = meta.temperature
        self.threshold: float = meta.threshold
        #: The borderline band as probabilities ``(low, high)``; ``None`` when the model has none.
        self.band: tuple[float, float] | None = band_edges(meta.threshold, meta.borderline) if meta.borderline else None
        # the out-of-distribution score's features are recorded from the verdict's own forward pass
        self._tap = FeatureTap(self.model) if meta.ood is not None else None

    @property
    def description(self) -> str:
        """``"default.pt (xraynet, epoch 41, 2026-11-24)"``; ``"(3 × xraynet, epoch 50, ...)"`` for an ensemble."""
        created = (self.meta.created or "")[:10]
        epoch = "?" if self.meta.epoch is None else self.meta.epoch
        return f"{self.path.name} ({self.architecture}, epoch {epoch}, {created}{self._recalibrated})"

    @property
    def _recalibrated(self) -> str:
        """``", recalibrated to 'site' on 2026-12-01"`` for a model recalibrated to a site, else empty."""
        record = self.meta.recalibration
        return f", recalibrated to '{record['data']['root_name']}' on {record['when'][:10]}" if record else ""

    @property
    def architecture(self) -> str:
        """``"xraynet"``, or ``"3 × xraynet"`` for an ensemble of three."""
        return self.meta.architecture_label

    @property
    def test_figures(self) -> dict[str, Any] | None:
        """The model's recorded figures on the held-out test split, if it was evaluated on one."""
        return self.meta.test

    @property
    def threshold_purpose(self) -> str:
        """What the threshold was chosen for, as a phrase: "set on validation data for ..."."""
        rule, figures = self.meta.threshold_rule, self.meta.validation or {}
        there = ""
        if "sensitivity" in figures and "specificity" in figures:
            there = (f": {100 * figures['sensitivity']:.1f} % sensitivity and {100 * figures['specificity']:.1f} % "
                     f"specificity there{' (in-sample)' if self.meta.recalibration else ''}")  # fmt: skip
        record = self.meta.recalibration
        where = (f"the site's images ('{record['data']['root_name']}', {sum(record['data']['counts'].values())} "
                 "images)" if record else "validation data")  # fmt: skip
        if rule and rule.startswith("sensitivity >="):
            target = float(rule.split(">=")[1])
            return f"set on {where} for at least {100 * target:.0f} % sensitivity{there}"
        if rule:
            return f"set on {where} for the best sum of sensitivity and specificity ({rule}){there}"
        return "not chosen on data (the model was not calibrated)"

    def rule(self) -> str:
        """The decision rule in a sentence or two: threshold, what it was set for, and the borderline band."""
        text = (f"PNEUMONIA when the pneumonia score (the calibrated probability of pneumonia) is at least "
                f"{self.threshold:.3f}, a threshold {self.threshold_purpose}.")  # fmt: skip
        if self.band is not None:
            low, high = self.band
            share = f"{100 * BORDERLINE_ACCURACY:.0f} %"
            text += (f" Scores between {low:.3f} and {high:.3f} read \"borderline: review\": of the images the band "
                     f"was chosen on, the model was right on fewer than {share} of those inside it.")  # fmt: skip
        ood = self.meta.ood
        if ood is not None:
            seen = ood["validation"]
            text += (f" Images whose unfamiliarity exceeds {ood['threshold']:.3f} (as {seen['flagged']} of its "
                     f"{seen['n']} validation images do) are unlike the images the model learned from: their verdict "
                     "reads \"unreliable\". \"Not flagged\" is no guarantee: the check misses some unfamiliar images "
                     "(the shipped model missed about a third of a set of adult films).")  # fmt: skip
        else:
            text += " This model has no reference for unfamiliar images: they are not flagged."
        return text

    def prepare(self, xray: XRay) -> np.ndarray:
        """The image as the model sees it: ``(S, S)`` float32 in ``[0, 1]``."""
        return model_input(xray.pixels, size=self.input_size)

    def batch(self, xrays: Sequence[XRay]) -> torch.Tensor:
        """Prepared images as the model's input tensor ``(B, 1, S, S)``."""
        return torch.from_numpy(np.stack([self.prepare(x) for x in xrays])).unsqueeze(1)

    @torch.inference_mode()
    def probabilities(self, inputs: torch.Tensor) -> np.ndarray:
        """Calibrated PNEUMONIA probabilities ``(B,)`` of a prepared batch ``(B, 1, S, S)``."""
        logits = self.model(inputs.contiguous(memory_format=torch.channels_last)).double().numpy()
        return sigmoid(logits / self.temperature)

    @contextmanager
    def observing(self) -> Iterator[OODRecording]:
        """A block whose first forward pass through the model (a verdict's, or a heat map's on the explainer's copy)
        is read for the out-of-distribution score: :meth:`OODRecording.scores` after the block."""
        if self._tap is None:
            yield OODRecording(None, self)
            return
        with self._tap.recording() as sink:
            yield OODRecording(sink, self)

    def assess(self, inputs: torch.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Probabilities (as :meth:`probabilities`) and out-of-distribution scores ``(B,)`` (``None`` when the model
        has no reference) of a prepared batch, from one forward pass."""
        with self.observing() as recording:
            probabilities = self.probabilities(inputs)
        return probabilities, recording.scores()

    def verdict(self, probability: float, ood_score: float | None = None) -> Prediction:
        """The prediction for a calibrated PNEUMONIA probability (and the image's out-of-distribution score)."""
        p = float(probability)
        label = LABELS[1] if p >= self.threshold else LABELS[0]
        ood = None if ood_score is None else OutOfDistribution(float(ood_score), self.meta.ood["threshold"])
        return Prediction(label=label, probabilities={LABELS[0]: 1.0 - p, LABELS[1]: p}, threshold=self.threshold,
                          model=self.description, band=self.band, threshold_purpose=self.threshold_purpose,
                          out_of_distribution=ood)  # fmt: skip

    def predict(self, xrays: Sequence[XRay]) -> list[Prediction]:
        """Verdicts for several X-rays (one forward pass)."""
        if not xrays:
            return []
        probabilities, scores = self.assess(self.batch(xrays))
        ood = [None] * len(probabilities) if scores is None else scores
        return [self.verdict(p, s) for p, s in zip(probabilities, ood, strict=True)]


class OODRecording:
    """The features :meth:`Classifier.observing` recorded, turned into out-of-distribution scores."""

    def __init__(self, sink: list[torch.Tensor] | None, classifier: Classifier) -> None:
        self._sink, self._classifier = sink, classifier

    def scores(self) -> np.ndarray | None:
        """Scores ``(B,)`` of the recorded pass; ``None`` when the model has no reference.

        Raises
        ------
        RuntimeError
            No forward pass was recorded (a bug in the caller).
        """
        if self._sink is None:
            return None
        if not self._sink:
            raise RuntimeError("No forward pass ran inside Classifier.observing().")
        model = self._classifier.model
        return knn_distance(torch.stack(self._sink), getattr(model, BUFFER), self._classifier.meta.ood["neighbours"])
