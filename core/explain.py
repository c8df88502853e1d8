"""Class activation maps (pytorch-grad-cam) and a per-image check of whether a map means anything.

Methods: Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ (Chattopadhyay et al. 2018), Score-CAM (Wang et al. 2020) and
Eigen-CAM (Muhammad & Yeasin 2020), on the layer each architecture names (:data:`core.classify.models.ARCHITECTURES`);
for an ensemble, on that layer of every member, the members' maps averaged.

**Faithfulness.** A heat map can look convincing and still not be what the model used. For each image we remove the
pixels the map ranks highest (the top 20 %, filled in by ROAD's noisy linear imputation, Rong et al. 2022, so the
hole itself is not a give-away) and measure how much the evidence for the predicted class falls; then we remove as
many randomly chosen pixels and measure the same. A map that tells the truth makes the first drop much larger than
the second; a decorative one does not. Evidence is the calibrated log-odds, ``log(p / (1 - p))``: a sure verdict
(p = 0.9999) that a map's pixels halve the odds of barely moves its probability, so probabilities alone would call
every confident map decorative. Both are reported.

This is the only module that imports pytorch-grad-cam.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, ScoreCAM
from pytorch_grad_cam.metrics.road import ROADMostRelevantFirst

from core.classify.calibration import sigmoid
from core.classify.data import LABELS
from core.classify.models import cam_layers
from core.classify.predict import Classifier
from core.errors import InputError

__all__ = ["CAM_METHODS", "CamMap", "Explainer", "Faithfulness"]

CAM_METHODS = {"Grad-CAM": GradCAM, "Grad-CAM++": GradCAMPlusPlus, "Score-CAM": ScoreCAM, "Eigen-CAM": EigenCAM}


@dataclass(frozen=True)
class Faithfulness:
    """How much removing the most highlighted pixels hurts the verdict, against removing random ones.

    Attributes
    ----------
    removed_fraction : float
        Share of the pixels removed, e.g. 0.2.
    probability : float
        Calibrated probability of the explained label on the intact image.
    probability_cam, probability_random : float
        The same after removing the map's top pixels; after removing random pixels (mean over trials).
    drop_cam, drop_random : float
        Fall of the label's calibrated log-odds in each case (negative: it rose).
    """

    removed_fraction: float
    probability: float
    probability_cam: float
    probability_random: float
    drop_cam: float
    drop_random: float

    @property
    def excess(self) -> float:
        """``drop_cam - drop_random`` in log-odds: above 0 the map points at what the model uses more than chance."""
        return self.drop_cam - self.drop_random

    @property
    def assessment(self) -> str:
        """``"telling"`` (excess ≥ 1), ``"weak"`` (≥ 0.25) or ``"decorative"``: how far to trust the map.

        Rules of thumb: removing a fifth of the image where the map points should divide the verdict's odds by
        at least e ≈ 2.7 more than removing a random fifth does.
        """
        if self.excess >= 1.0:
            return "telling"
        return "weak" if self.excess >= 0.25 else "decorative"

    def describe(self, target: str) -> str:
        """The figure in one sentence, for the page and the report."""

        def signed(value: float) -> str:
            return f"{round(value, 2) + 0.0:+.2f}"  # never "-0.00"

        return (
            f"Removing the map's top {self.removed_fraction:.0%} of pixels lowers the log-odds of {target} by "
            f"{signed(self.drop_cam)} (P {self.probability:.3f} → {self.probability_cam:.3f}); removing as many "
            f"random pixels, by {signed(self.drop_random)} (P → {self.probability_random:.3f})."
        )


@dataclass(frozen=True)
class CamMap:
    """A heat map over the model's input.

    Attributes
    ----------
    heat : ndarray of float32, shape (S, S)
        In ``[0, 1]``, 1 where the map says the evidence for ``target`` is strongest.
    method : str
        A key of :data:`CAM_METHODS`.
    target : str
        The label explained.
    faithfulness : Faithfulness or None
    """

    heat: np.ndarray
    method: str
    target: str
    faithfulness: Faithfulness | None = None


class _LogOdds:
    """A pytorch-grad-cam target: the calibrated log-odds of one label, from the model's PNEUMONIA logit."""

    def __init__(self, label: int, temperature: float = 1.0) -> None:
        self.sign = 1.0 if label == 1 else -1.0
        self.temperature = temperature

    def __call__(self, logit: torch.Tensor) -> torch.Tensor:
        return self.sign * logit / self.temperature


class Explainer:
    """Heat maps for one classifier; the CAM objects are built once per method and reused.

    Parameters
    ----------
    classifier : Classifier
    """

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        # pytorch-grad-cam hooks its target layer for as long as a CAM object lives, and the hooks keep a copy of
        # every activation passing through. They sit on a private copy of the model, so predictions (and the
        # faithfulness passes) through ``classifier.model`` neither pay for them nor pile up tensors.
        self._cam_model = copy.deepcopy(classifier.model).eval()
        self.layers = cam_layers(self._cam_model, classifier.meta.arch)
        self._cams: dict[str, object] = {}

    def _cam(self, method: str) -> object:
        if method not in CAM_METHODS:
            raise InputError(f"Unknown heat-map method '{method}'; choose one of {', '.join(CAM_METHODS)}.")
        if method not in self._cams:
            self._cams[method] = CAM_METHODS[method](model=self._cam_model, target_layers=self.layers)
        return self._cams[method]

    def explain(
        self,
        inputs: torch.Tensor,
        *,
        method: str = "Grad-CAM",
        target: str | None = None,
        faithfulness: bool = True,
        removed_fraction: float = 0.2,
        random_trials: int = 4,
        seed: int = 0,
    ) -> CamMap:
        """A heat map of one prepared image, optionally with its faithfulness figure.

        Parameters
        ----------
        inputs : Tensor, shape (1, 1, S, S)
            As :meth:`Classifier.batch` gives it.
        method : str
        target : str, optional
            The label to explain; the predicted one when omitted.
        faithfulness : bool
        removed_fraction : float
            Share of pixels removed for the faithfulness figure.
        random_trials : int
            Random removals averaged for the baseline.
        seed : int

        Returns
        -------
        CamMap
        """
        if inputs.ndim != 4 or inputs.shape[:2] != (1, 1):
            raise InputError(f"Explain one prepared image of shape (1, 1, S, S); got {tuple(inputs.shape)}.")
        probability = float(self.classifier.probabilities(inputs)[0])
        if target is None:
            target = self.classifier.verdict(probability).label
        label = LABELS.index(target)
        cam = self._cam(method)
        try:
            with torch.enable_grad():
                heat = cam(input_tensor=inputs.clone(), targets=[_LogOdds(label)])[0]
        finally:
            cam.activations_and_grads.clear()  # release this image's activations and gradients
        heat = np.nan_to_num(np.asarray(heat, dtype=np.float32)).clip(0.0, 1.0)
        figure = None
        if faithfulness:
            figure = self.faithfulness(inputs, heat, target=target, removed_fraction=removed_fraction,
                                       random_trials=random_trials, seed=seed)  # fmt: skip
        return CamMap(heat=heat, method=method, target=target, faithfulness=figure)

    def faithfulness(
        self,
        inputs: torch.Tensor,
        heat: np.ndarray,
        *,
        target: str,
        removed_fraction: float = 0.2,
        random_trials: int = 4,
        seed: int = 0,
    ) -> Faithfulness:
        """The faithfulness figure of any heat map (see the module's docstring) for one prepared image.

        Parameters
        ----------
        inputs : Tensor, shape (1, 1, S, S)
        heat : ndarray, shape (S, S)
        target : str
            The label whose probability is watched.
        removed_fraction, random_trials, seed
            As in :meth:`explain`.

        Returns
        -------
        Faithfulness
        """
        if not 0.0 < removed_fraction < 1.0:
            raise InputError(f"The share of pixels removed must lie in (0, 1); got {removed_fraction}.")
        removed, trials = removed_fraction, max(1, random_trials)
        metric = ROADMostRelevantFirst(percentile=round(100 * (1 - removed)))
        log_odds = _LogOdds(LABELS.index(target), self.classifier.temperature)
        model = self.classifier.model
        with torch.inference_mode():
            before = float(log_odds(model(inputs)[0]))
        rng = np.random.default_rng(seed)
        # ROAD's imputation draws its noise from torch's global generator: seed a private copy of it. The metric
        # returns the target's change (after - before).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            drop_cam = -float(metric(inputs, heat[None], [log_odds], model)[0])
            drops = np.array([
                -float(metric(inputs, rng.random(heat.shape, dtype=np.float32)[None], [log_odds], model)[0])
                for _ in range(trials)
            ])  # fmt: skip
        return Faithfulness(
            removed_fraction=removed,
            probability=float(sigmoid(before)),
            probability_cam=float(sigmoid(before - drop_cam)),
            probability_random=float(np.mean(sigmoid(before - drops))),
            drop_cam=drop_cam,
            drop_random=float(np.mean(drops)),
        )
