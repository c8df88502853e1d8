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

The imputation is ROAD's own linear system (each removed pixel the weighted mean of its eight neighbours, plus
noise of σ = 0.01), as pytorch-grad-cam's ``NoisyLinearImputer`` states it, assembled in one step and solved by
conjugate gradients; the five perturbed images (the map's removal, four random ones) go through the model as one
batch, with the intact image unless its log-odds are already known. (The library builds the system entry by entry
and runs two forward passes per map: at 224 px that cost half a second an image.) A test compares the two
imputations.

This is the only module that imports pytorch-grad-cam.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass

import numpy as np
import pytorch_grad_cam.score_cam
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus, ScoreCAM
from scipy import sparse
from scipy.sparse.linalg import cg
from scipy.stats import t as student_t
from threadpoolctl import ThreadpoolController

from core.classify.calibration import sigmoid
from core.classify.data import LABELS
from core.classify.models import cam_layers
from core.classify.predict import Classifier
from core.errors import InputError
from core.types import Progress

__all__ = [
    "CAM_METHODS",
    "CamMap",
    "Explainer",
    "Faithfulness",
    "road_imputation",
]

CAM_METHODS = {"Grad-CAM": GradCAM, "Grad-CAM++": GradCAMPlusPlus, "Score-CAM": ScoreCAM, "Eigen-CAM": EigenCAM}

#: ROAD's neighbour weights: (row offset, column offset, weight); edges 1/6, corners 1/12 (Rong et al. 2022).
_ROAD_NEIGHBOURS = ((1, 1, 1 / 12), (0, 1, 1 / 6), (-1, 1, 1 / 12), (1, -1, 1 / 12), (0, -1, 1 / 6),
                    (-1, -1, 1 / 12), (1, 0, 1 / 6), (-1, 0, 1 / 6))  # fmt: skip


def road_imputation(
    image: np.ndarray, removed: np.ndarray, *, noise: float = 0.01, rng: np.random.Generator
) -> np.ndarray:
    """ROAD's noisy linear imputation (Rong et al., "A consistent and efficient evaluation strategy for attribution
    methods", ICML 2022): the removed pixels take the values that make each the weighted mean of its neighbours
    inside the image (known ones fixed), then Gaussian noise of standard deviation ``noise``.

    Parameters
    ----------
    image : ndarray, shape (H, W)
    removed : ndarray of bool, shape (H, W)
    noise : float
    rng : numpy Generator
        Draws the noise.

    Returns
    -------
    ndarray of float32, shape (H, W)
        ``image`` with the removed pixels imputed.
    """
    height, width = image.shape
    values = image.ravel().astype(np.float64)
    missing = np.flatnonzero(removed.ravel())
    count = missing.size
    unknown = np.full(values.size, -1)
    unknown[missing] = np.arange(count)
    rows, columns = np.divmod(missing, width)
    # the system M x = b with M = diag(weight of each pixel's neighbours inside the image) - weights to unknown ones
    inside_weight, known_sum = np.zeros(count), np.zeros(count)
    entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for dr, dc, weight in _ROAD_NEIGHBOURS:
        r, c = rows + dr, columns + dc
        equations = np.flatnonzero((r >= 0) & (r < height) & (c >= 0) & (c < width))
        neighbours = r[equations] * width + c[equations]
        inside_weight[equations] += weight
        variable = unknown[neighbours]
        is_unknown = variable >= 0
        known_sum[equations[~is_unknown]] += weight * values[neighbours[~is_unknown]]  # once per equation per offset
        entries.append((equations[is_unknown], variable[is_unknown], np.full(int(is_unknown.sum()), -weight)))
    entries.append((np.arange(count), np.arange(count), inside_weight))
    i, j, v = (np.concatenate(part) for part in zip(*entries, strict=True))
    system = sparse.csr_matrix((v, (i, j)), shape=(count, count))  # symmetric, diagonally dominant: positive definite
    solution, _ = cg(system, known_sum, rtol=1e-5, atol=0.0, maxiter=10 * count + 100)  # converges: M is s.p.d.
    imputed = values.copy()
    imputed[missing] = solution + noise * rng.standard_normal(count)
    return imputed.reshape(height, width).astype(np.float32)


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
        Fall of the label's calibrated log-odds in each case (negative: it rose); ``drop_random`` is the mean over
        the random removals.
    spread_random : float
        Standard deviation of the random removals' falls (0 with one removal): how much chance alone moves the
        verdict on this image. Very sure verdicts (log-odds of 20) swing by a log-odds unit or more.
    random_trials : int
        How many random removals were averaged.
    """

    removed_fraction: float
    probability: float
    probability_cam: float
    probability_random: float
    drop_cam: float
    drop_random: float
    spread_random: float = 0.0
    random_trials: int = 1

    @property
    def excess(self) -> float:
        """``drop_cam - drop_random`` in log-odds: above 0 the map points at what the model uses more than chance."""
        return self.drop_cam - self.drop_random

    @property
    def chance(self) -> float:
        """The excess a map no better than random would reach by chance, one standard deviation of it:
        ``spread_random * sqrt(1 + 1 / random_trials)`` (one random removal against the mean of the others)."""
        return self.spread_random * math.sqrt(1.0 + 1.0 / max(1, self.random_trials))

    @property
    def assessment(self) -> str:
        """``"telling"``, ``"weak"`` or ``"decorative"``: how far to trust the map.

        Either way the excess must reach what a random map reaches one time in forty: :attr:`chance` times the
        97.5th percentile of Student's t with ``random_trials - 1`` degrees of freedom (the spread is estimated
        from those removals; 3.18 for four). Telling: an excess of at least 1 (removing a fifth of the image where
        the map points divides the verdict's odds by at least e ≈ 2.7 more than removing a random fifth does).
        Weak: at least 0.25. Otherwise decorative: chance alone could have done as much.
        """
        significant = (
            float(student_t.ppf(0.975, self.random_trials - 1)) * self.chance if self.random_trials > 1 else 0.0
        )
        if self.excess >= max(1.0, significant):
            return "telling"
        return "weak" if self.excess >= max(0.25, significant) else "decorative"

    def describe(self, target: str) -> str:
        """The figure in one sentence, for the page and the report."""

        def change(value: float) -> str:  # "lowers … by 0.78" or "raises … by 0.78", never "lowers … by -0.78"
            value = round(value, 2) + 0.0  # never "-0.00"
            return f"{'raises' if value < 0 else 'lowers'} the log-odds of {target} by {abs(value):.2f}"

        return (
            f"Removing the map's top {self.removed_fraction:.0%} of pixels {change(self.drop_cam)} "
            f"(P {self.probability:.3f} → {self.probability_cam:.3f}); removing as many random pixels "
            f"{change(self.drop_random)} ± {self.spread_random:.2f} (P → {self.probability_random:.3f})."
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
    probability : float or None
        The calibrated probability of PNEUMONIA that decided ``target``, when ``explain`` decided it.
    """

    heat: np.ndarray
    method: str
    target: str
    faithfulness: Faithfulness | None = None
    probability: float | None = None


class _LogOdds:
    """A pytorch-grad-cam target: the calibrated log-odds of one label, from the model's PNEUMONIA logit."""

    def __init__(self, label: int, temperature: float = 1.0) -> None:
        self.sign = 1.0 if label == 1 else -1.0
        self.temperature = temperature

    def __call__(self, logit: torch.Tensor) -> torch.Tensor:
        return self.sign * logit / self.temperature


class _Verdict(_LogOdds):
    """A target for the gradient methods that decides the label from the forward pass it differentiates, with the
    classifier's temperature and threshold: the map's pass is also the verdict's, one pass instead of two. (Those
    methods call their target once per image, on the intact image's output.)"""

    def __init__(self, temperature: float, threshold: float) -> None:
        super().__init__(1, temperature)
        self.threshold = threshold
        self.log_odds: float | None = None

    def __call__(self, logit: torch.Tensor) -> torch.Tensor:
        self.log_odds = float(logit.detach()) / self.temperature  # calibrated log-odds of PNEUMONIA
        self.sign = 1.0 if sigmoid(self.log_odds) >= self.threshold else -1.0
        return self.sign * logit


#: The BLAS thread pools of this process (numpy's, scipy's), found once; their limit is process-wide.
_BLAS = ThreadpoolController()
_BLAS_LOCK = threading.Lock()


def _top_share(heat: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """The ``share`` of a map's pixels it ranks highest, exactly that many: ties (a Grad-CAM map is often 0 over
    most of the image) broken at random, not all taken (a percentile cut would remove every pixel)."""
    count = round(share * heat.size)
    keys = heat.ravel().astype(np.float64) + rng.random(heat.size) * 1e-9  # below any map's resolution
    removed = np.zeros(heat.size, dtype=bool)
    removed[np.argpartition(-keys, count - 1)[:count]] = True
    return removed.reshape(heat.shape)


#: The methods whose target is called once, on the intact image's output (Score-CAM calls it on perturbed images,
#: Eigen-CAM not at all).
_GRADIENT_METHODS = ("Grad-CAM", "Grad-CAM++")


def _start_gradients_here(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor | None:
    """A forward hook: the layer's output as a tensor that gradients are computed for (when they are on)."""
    if not torch.is_grad_enabled() or output.requires_grad:
        return None
    return output.detach().requires_grad_(True).clone()  # the clone lets later in-place operations run


class _BatchProgress:
    """Stands in for the ``tqdm`` module inside pytorch-grad-cam's Score-CAM: its loop over batches of masked
    images reports to the calling thread's :data:`~core.types.Progress` instead of drawing bars on the server's
    standard error (where they filled the log)."""

    local = threading.local()

    @classmethod
    def tqdm(cls, iterable):
        items = list(iterable)
        report = getattr(cls.local, "report", None)
        for index, item in enumerate(items, start=1):
            yield item
            if report is not None:
                report(index / len(items))


pytorch_grad_cam.score_cam.tqdm = _BatchProgress


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
        # faithfulness passes) through ``classifier.model`` neither pay for them nor pile up tensors. The copy keeps
        # the classifier's feature tap, so a map's pass also gives the out-of-distribution score its features.
        self._cam_model = copy.deepcopy(classifier.model).eval()
        self.layers = cam_layers(self._cam_model, classifier.meta.arch)
        # A map needs the gradient at the mapped layer, not below it: no weight asks for one, and the layer's output
        # starts the graph (this hook runs before the library's), so the backward pass stops there (at 224 px it
        # was two thirds of a Grad-CAM's time).
        for parameter in self._cam_model.parameters():
            parameter.requires_grad_(False)
        for layer in self.layers:
            layer.register_forward_hook(_start_gradients_here)
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
        progress: Progress | None = None,
    ) -> CamMap:
        """A heat map of one prepared image, optionally with its faithfulness figure.

        Parameters
        ----------
        inputs : Tensor, shape (1, 1, S, S)
            As :meth:`Classifier.batch` gives it.
        method : str
        target : str, optional
            The label to explain; the predicted one when omitted (decided, for the gradient methods, by the map's
            own forward pass, whose probability :attr:`CamMap.probability` then gives).
        faithfulness : bool
        removed_fraction : float
            Share of pixels removed for the faithfulness figure.
        random_trials : int
            Random removals averaged for the baseline.
        seed : int
        progress : Progress, optional
            Told how far Score-CAM's masked passes have come (the other methods take one pass).

        Returns
        -------
        CamMap
        """
        if inputs.ndim != 4 or inputs.shape[:2] != (1, 1):
            raise InputError(f"Explain one prepared image of shape (1, 1, S, S); got {tuple(inputs.shape)}.")
        cam = self._cam(method)
        probability = log_odds = None
        if target is None and method not in _GRADIENT_METHODS:
            probability = float(self.classifier.probabilities(inputs)[0])
            target = self.classifier.verdict(probability).label
        decide = _Verdict(self.classifier.temperature, self.classifier.threshold) if target is None else None
        _BatchProgress.local.report = progress
        try:
            with torch.enable_grad():
                heat = cam(input_tensor=inputs.clone(memory_format=torch.channels_last),
                           targets=[decide or _LogOdds(LABELS.index(target))])[0]  # fmt: skip
        finally:
            _BatchProgress.local.report = None
            cam.activations_and_grads.clear()  # release this image's activations and gradients
        if decide is not None:
            log_odds, probability = decide.log_odds, float(sigmoid(decide.log_odds))
            target = self.classifier.verdict(probability).label
        heat = np.nan_to_num(np.asarray(heat, dtype=np.float32)).clip(0.0, 1.0)
        figure = None
        if faithfulness:
            figure = self.faithfulness(inputs, heat, target=target, log_odds=log_odds,
                                       removed_fraction=removed_fraction, random_trials=random_trials,
                                       seed=seed)  # fmt: skip
        return CamMap(heat=heat, method=method, target=target, faithfulness=figure, probability=probability)

    def faithfulness(
        self,
        inputs: torch.Tensor,
        heat: np.ndarray,
        *,
        target: str,
        log_odds: float | None = None,
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
        log_odds : float, optional
            The intact image's calibrated log-odds of PNEUMONIA, when known (one forward pass fewer).
        removed_fraction, random_trials, seed
            As in :meth:`explain`.

        Returns
        -------
        Faithfulness
        """
        if not 0.0 < removed_fraction < 1.0:
            raise InputError(f"The share of pixels removed must lie in (0, 1); got {removed_fraction}.")
        removed, trials = removed_fraction, max(1, random_trials)
        rng = np.random.default_rng(seed)
        image = inputs[0, 0].numpy()
        maps = [heat, *(rng.random(heat.shape, dtype=np.float32) for _ in range(trials))]
        # the top ``removed`` share of each map's pixels is removed (ROAD's "most relevant first")
        with _BLAS_LOCK, _BLAS.limit(limits=1, user_api="blas"):  # idle BLAS threads would spin against torch's
            perturbed = [road_imputation(image, _top_share(m, removed, rng), rng=rng) for m in maps]
        intact = [] if log_odds is not None else [image]  # its evidence is known, or it joins the batch
        batch = torch.from_numpy(np.stack([*intact, *perturbed]))[:, None]
        target_log_odds = _LogOdds(LABELS.index(target), self.classifier.temperature)
        with torch.inference_mode():
            evidence = target_log_odds(self.classifier.model(batch.contiguous(memory_format=torch.channels_last)))
        evidence = evidence.double().numpy()
        if log_odds is not None:
            before = target_log_odds.sign * log_odds
        else:
            before, evidence = float(evidence[0]), evidence[1:]
        drops = before - evidence
        drop_cam, drop_random = float(drops[0]), drops[1:]
        return Faithfulness(
            removed_fraction=removed,
            probability=float(sigmoid(before)),
            probability_cam=float(sigmoid(before - drop_cam)),
            probability_random=float(np.mean(sigmoid(before - drop_random))),
            drop_cam=drop_cam,
            drop_random=float(np.mean(drop_random)),
            spread_random=float(np.std(drop_random, ddof=1)) if trials > 1 else 0.0,
            random_trials=trials,
        )
