"""Verdicts on X-rays with a saved model: the path the app and ``python -m core predict`` share."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.classify.calibration import sigmoid
from core.classify.checkpoint import DEFAULT_MODEL_PATH, architecture_label, load_model
from core.classify.data import LABELS
from core.classify.transforms import model_input
from core.store.files import file_version
from core.types import Prediction, XRay

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
        self.model, self.meta = load_model(self.path)
        #: The first 12 hex digits of the checkpoint file's SHA-256: which weights decided, whatever the file name.
        self.version: str = file_version(self.path)
        self.input_size: int = self.meta["input_size"]
        self.temperature: float = self.meta["temperature"]
        self.threshold: float = self.meta["threshold"]

    @property
    def description(self) -> str:
        """``"default.pt (xraynet, epoch 41, 2026-11-24)"``; ``"(3 × xraynet, epoch 50, ...)"`` for an ensemble."""
        created = str(self.meta.get("created", ""))[:10]
        return f"{self.path.name} ({self.architecture}, epoch {self.meta.get('epoch', '?')}, {created})"

    @property
    def architecture(self) -> str:
        """``"xraynet"``, or ``"3 × xraynet"`` for an ensemble of three."""
        return architecture_label(self.meta)

    @property
    def test_figures(self) -> dict[str, Any] | None:
        """The model's recorded figures on the held-out test split, if it was evaluated on one."""
        return self.meta.get("test")

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

    def verdict(self, probability: float) -> Prediction:
        """The prediction for a calibrated PNEUMONIA probability."""
        p = float(probability)
        label = LABELS[1] if p >= self.threshold else LABELS[0]
        return Prediction(label=label, probabilities={LABELS[0]: 1.0 - p, LABELS[1]: p}, threshold=self.threshold,
                          model=self.description)  # fmt: skip

    def predict(self, xrays: Sequence[XRay]) -> list[Prediction]:
        """Verdicts for several X-rays (one forward pass)."""
        if not xrays:
            return []
        return [self.verdict(p) for p in self.probabilities(self.batch(xrays))]
