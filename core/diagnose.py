"""One X-ray through the classifier and its heat map: what the Diagnose page, ``python -m core predict`` and the
benchmark share.

Build one :class:`Diagnoser` per process (the model, its heat-map copy and the CAM objects are made once) and call it
for every image. It may be shared by threads (Streamlit runs each browser session in its own): heat maps, whose
library keeps per-call state on the hooked model, are computed one at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.classify.checkpoint import DEFAULT_MODEL_PATH
from core.classify.predict import Classifier
from core.errors import CoreError, ModelError
from core.explain import CamMap, Explainer
from core.export.heatmap import heat_inside
from core.lungs.model import DEFAULT_LUNG_MODEL
from core.lungs.segment import LungMask, LungSegmenter
from core.suitability import suitability_warnings
from core.types import Prediction, Progress, XRay

__all__ = ["Diagnoser", "Diagnosis"]


@dataclass(frozen=True)
class Diagnosis:
    """What the workstation says about one X-ray.

    Attributes
    ----------
    xray : XRay
    model_input : ndarray of float32, shape (S, S)
        The image as the model saw it.
    prediction : Prediction
    cam : CamMap or None
        The heat map (and its faithfulness figure) when one was asked for.
    warnings : tuple of str
        Reasons to doubt the image is a frontal chest X-ray (:func:`core.suitability.suitability_warnings`).
    lungs : LungMask or None
        The lungs found in the image (:mod:`core.lungs`), at its size; ``None`` without a lung model.
    """

    xray: XRay
    model_input: np.ndarray
    prediction: Prediction
    cam: CamMap | None
    warnings: tuple[str, ...]
    lungs: LungMask | None = None

    @property
    def heat_in_lungs(self) -> float | None:
        """The share of the heat map inside the lungs (:func:`core.explain.heat_inside`); ``None`` without a map,
        without lungs found, or for a map that is zero everywhere. A pneumonia map that lives on labels and corners
        is suspect."""
        if self.cam is None or self.lungs is None or not self.lungs.lungs.any():
            return None
        return heat_inside(self.cam.heat, self.lungs.lungs)


class Diagnoser:
    """A classifier with its explainer, built once.

    Parameters
    ----------
    path : str or Path
        A checkpoint; the shipped default model when omitted.
    lung_model : str or Path or None
        A lung checkpoint (:mod:`core.lungs`), the shipped one when omitted; ``None``: no lungs are segmented.
    """

    def __init__(self, path: str | Path = DEFAULT_MODEL_PATH, *,
                 lung_model: str | Path | None = DEFAULT_LUNG_MODEL) -> None:  # fmt: skip
        self.classifier = Classifier(path)
        self.explainer = Explainer(self.classifier)
        #: Why there are no lungs (the lung model could not be loaded), in a sentence; ``None`` when all is well.
        self.lung_problem: str | None = None
        self.segmenter: LungSegmenter | None = None
        if lung_model is not None:  # lungs are an extra: without them the verdict and the map are still given
            try:
                self.segmenter = LungSegmenter(lung_model)
            except ModelError as error:
                self.lung_problem = f"No lung outline or heat-in-lungs share: {error}"
        self._cam_lock = threading.Lock()

    def diagnose(
        self,
        xray: XRay,
        *,
        method: str | None = "Grad-CAM",
        faithfulness: bool = True,
        seed: int = 0,
        lungs: bool = True,
        progress: Progress | None = None,
    ) -> Diagnosis:
        """Verdict, heat map (``method=None``: none), warnings and (with ``lungs`` and a lung model) the lungs for
        one X-ray.

        With a heat map, the verdict and the out-of-distribution score come from the map's own forward pass (the
        explainer decides the label it explains with the classifier's calibration and threshold): one pass through
        the network, not two. ``progress`` is told how far a slow heat map (Score-CAM) has come.
        """
        inputs = self.classifier.batch([xray])
        cam = None
        with self.classifier.observing() as recording:
            if method is not None:
                with self._cam_lock:
                    cam = self.explainer.explain(inputs, method=method, faithfulness=faithfulness, seed=seed,
                                                 progress=progress)  # fmt: skip
            probability = cam.probability if cam is not None else float(self.classifier.probabilities(inputs)[0])
        scores = recording.scores()
        prediction = self.classifier.verdict(probability, None if scores is None else float(scores[0]))
        return Diagnosis(
            xray=xray,
            model_input=inputs[0, 0].numpy(),
            prediction=prediction,
            cam=cam,
            warnings=tuple(suitability_warnings(xray)),
            lungs=self._lungs(xray) if lungs else None,
        )

    def _lungs(self, xray: XRay) -> LungMask | None:
        """The lungs of ``xray``, or ``None`` (no lung model, or none found in this image: the verdict stands)."""
        if self.segmenter is None:
            return None
        try:
            return self.segmenter.segment(xray.pixels)
        except CoreError:
            return None

    def predict(self, xrays: Sequence[XRay], *, batch_size: int = 32) -> list[Prediction]:
        """Verdicts only (no heat maps), in batches: the fast path for many images."""
        predictions: list[Prediction] = []
        for start in range(0, len(xrays), batch_size):
            predictions += self.classifier.predict(xrays[start : start + batch_size])
        return predictions
