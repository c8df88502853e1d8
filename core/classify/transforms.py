"""What the classifier sees: the seed's preprocessing as the model's input pipeline, and training augmentation.

Input pipeline (the same for training, evaluation and prediction, so a model never sees anything else):

1. an image larger than the data set's copies is first squashed to ``W × W`` by area averaging, ``W`` = 224 (the
   published copies' side) or ``S`` when the model's input is larger: the published data set was squashed to a
   square, so a full-size upload is squashed the same way to look like what the model learnt;
2. a 3×3 median filter at that scale (removes salt-and-pepper noise: the seed's first step), so that it acts on a
   full-size upload as it did on the training copies (and costs a few hundredths of what it would at full size);
3. resizing to the model's ``S × S`` by area averaging, **stretching** rather than letterboxing;
4. normalisation: each image is standardised to zero mean and unit variance inside the model
   (:class:`~core.classify.models.InstanceStandardize`), so the stored input is simply grey levels in ``[0, 1]``.

Augmentation follows TorchIO's rule: :func:`sample_augmentation` draws parameters from a generator,
:func:`augment` applies them deterministically. Chosen for chest radiographs: small rotations, scalings and
shifts (patient positioning), gamma (exposure and detector response), Gaussian noise (quantum noise); no horizontal
flips (the heart is on the left, and a mirrored chest is not a chest X-ray). Two levels (:data:`AUGMENTATIONS`):

- ``"standard"``: rotation ±10°, scale ±10 %, shift ±6 %, gamma ``exp(±0.35)``, noise up to 0.03;
- ``"strong"``, for data from other sites and machines than the training set's: rotation ±15°, scale ±20 % with the
  aspect ratio jittered by ±15 % (a squashed full-size film), shift ±10 %, gamma ``exp(±0.5)``, contrast
  ``exp(±0.4)`` and brightness ±0.1 (over- and under-exposed windows: the model standardises each image, so
  these act through the clipping they cause), blur or sharpening (detector resolution, JPEG
  smoothing, edge-enhancing post-processing), noise up to 0.05.

Mixup (Zhang et al. 2018, ``--mixup``) blends images, targets and loss weights in pairs within a batch: the weights
are drawn by :func:`mixup_weights`, :func:`mix` applies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import beta as beta_distribution

from core.preprocess import median_filter, resize

__all__ = [
    "AUGMENTATIONS",
    "DATASET_SIDE",
    "INPUT_PIPELINE",
    "AugmentParams",
    "augment",
    "mix",
    "mixup_weights",
    "model_input",
    "sample_augmentation",
]


#: The side of the published data set's copies (Kermany et al.'s images, squashed to 224 × 224).
DATASET_SIDE = 224
#: :func:`model_input` in words, as checkpoints record it.
INPUT_PIPELINE = (
    "grey [0,1] -> squashed to max(S, 224) if larger (area) -> median 3x3 -> stretched to S x S (area) "
    "-> per-image standardisation"
)


def model_input(pixels: np.ndarray, *, size: int) -> np.ndarray:
    """An X-ray prepared for the classifier: squashed to the data set's scale if larger, median 3×3, then stretched
    to ``size × size`` by area averaging (see the module's notes).

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        Grey levels in ``[0, 1]`` (an :attr:`core.types.XRay.pixels`).
    size : int
        The model's input side.

    Returns
    -------
    ndarray of float32, shape (size, size)
        In ``[0, 1]``.
    """
    side = max(size, DATASET_SIDE)
    if pixels.shape[0] > side or pixels.shape[1] > side:
        pixels = resize(pixels, size=(side, side), keep_aspect=False)
    return resize(median_filter(pixels, kernel_size=3), size=(size, size), keep_aspect=False)


@dataclass(frozen=True)
class AugmentParams:
    """Per-image augmentation parameters for a batch of ``B`` images (each a tensor of shape ``(B,)``).

    Attributes
    ----------
    angle_deg, scale, shift_x, shift_y : Tensor
        Rotation, isotropic scale (about the centre), and shifts of the content (right, down) as fractions of
        the image side.
    gamma : Tensor
        Grey levels are raised to this power.
    noise_std : Tensor
        Standard deviation of added Gaussian noise, in grey levels.
    aspect : Tensor, optional
        Horizontal over vertical scale (1: none).
    contrast, brightness : Tensor, optional
        Grey levels ``g`` become ``(g - m) * contrast + m + brightness`` with ``m`` the image's mean (1 and 0: none).
    sharpness : Tensor, optional
        Unsharp masking with a Gaussian of σ = 1 px: ``g + sharpness * (g - blur(g))``; negative values blur
        (-1: the blurred image), 0: none.
    """

    angle_deg: torch.Tensor
    scale: torch.Tensor
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    gamma: torch.Tensor
    noise_std: torch.Tensor
    aspect: torch.Tensor | None = None
    contrast: torch.Tensor | None = None
    brightness: torch.Tensor | None = None
    sharpness: torch.Tensor | None = None


AUGMENTATIONS: dict[str, dict[str, float] | None] = {
    "none": None,
    "standard": {"max_angle_deg": 10.0, "max_scale": 0.1, "max_shift": 0.06, "max_log_gamma": 0.35,
                 "max_noise_std": 0.03},
    "strong": {"max_angle_deg": 15.0, "max_scale": 0.2, "max_shift": 0.1, "max_log_gamma": 0.5,
               "max_noise_std": 0.05, "max_log_aspect": 0.15, "max_log_contrast": 0.4, "max_brightness": 0.1,
               "sharpness_range": (-1.0, 1.5)},
}  # fmt: skip
"""Augmentation levels: keyword arguments of :func:`sample_augmentation` (``None``: no augmentation)."""


def sample_augmentation(
    batch_size: int,
    *,
    generator: torch.Generator,
    max_angle_deg: float = 10.0,
    max_scale: float = 0.1,
    max_shift: float = 0.06,
    max_log_gamma: float = 0.35,
    max_noise_std: float = 0.03,
    max_log_aspect: float = 0.0,
    max_log_contrast: float = 0.0,
    max_brightness: float = 0.0,
    sharpness_range: tuple[float, float] = (0.0, 0.0),
) -> AugmentParams:
    """Draw augmentation parameters uniformly within the given bounds.

    Parameters
    ----------
    batch_size : int
    generator : torch.Generator
        The only source of randomness.
    max_angle_deg, max_scale, max_shift, max_log_gamma, max_noise_std : float
        Bounds: angle in ``±max_angle_deg``, scale in ``1 ± max_scale``, shifts in ``±max_shift`` of the side,
        gamma in ``exp(±max_log_gamma)``, noise standard deviation in ``[0, max_noise_std]``.
    max_log_aspect, max_log_contrast, max_brightness : float
        Aspect ratio in ``exp(±max_log_aspect)``, contrast in ``exp(±max_log_contrast)``, brightness in
        ``±max_brightness``; each left out (``None`` in the result) when its bound is 0.
    sharpness_range : (float, float)
        Unsharp-masking amount drawn in this range; left out when it is ``(0, 0)``.

    Returns
    -------
    AugmentParams
    """

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch_size, generator=generator)

    def optional(low: float, high: float) -> torch.Tensor | None:
        return uniform(low, high) if high > low else None

    log_aspect = optional(-max_log_aspect, max_log_aspect)
    log_contrast = optional(-max_log_contrast, max_log_contrast)
    return AugmentParams(
        angle_deg=uniform(-max_angle_deg, max_angle_deg),
        scale=uniform(1 - max_scale, 1 + max_scale),
        shift_x=uniform(-max_shift, max_shift),
        shift_y=uniform(-max_shift, max_shift),
        gamma=torch.exp(uniform(-max_log_gamma, max_log_gamma)),
        noise_std=uniform(0.0, max_noise_std),
        aspect=None if log_aspect is None else torch.exp(log_aspect),
        contrast=None if log_contrast is None else torch.exp(log_contrast),
        brightness=optional(-max_brightness, max_brightness),
        sharpness=optional(*sharpness_range),
    )


def augment(images: torch.Tensor, params: AugmentParams, *, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Apply sampled augmentation to a batch.

    Parameters
    ----------
    images : Tensor, shape (B, 1, H, W)
        Grey levels in ``[0, 1]``.
    params : AugmentParams
        For ``B`` images.
    noise : Tensor, shape (B, 1, H, W), optional
        Standard normal noise to scale by ``params.noise_std`` (drawn by the caller's generator); none added
        when omitted.

    Returns
    -------
    Tensor, shape (B, 1, H, W)
        In ``[0, 1]``; areas moved in from outside the image are black, like the air around a chest.
    """
    # The intended transform maps input to output coordinates (in [-1, 1]) as x' = A x + t, A = R diag(s a, s)
    # (stretch, then rotate); affine_grid wants the inverse, x = A^-1 (x' - t), A^-1 = diag(1/(s a), 1/s) R^-1.
    angle = params.angle_deg * (math.pi / 180.0)
    aspect = params.aspect if params.aspect is not None else torch.ones_like(params.scale)
    cos, sin = torch.cos(angle), torch.sin(angle)
    sx, sy = params.scale * aspect, params.scale
    a, b, c, d = cos / sx, sin / sx, -sin / sy, cos / sy
    tx, ty = params.shift_x * 2, params.shift_y * 2
    theta = torch.stack(
        [
            torch.stack([a, b, -(a * tx + b * ty)], dim=1),
            torch.stack([c, d, -(c * tx + d * ty)], dim=1),
        ],
        dim=1,
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out.clamp(0.0, 1.0) ** params.gamma.view(-1, 1, 1, 1).to(images.dtype)
    if params.sharpness is not None:
        out = out + params.sharpness.view(-1, 1, 1, 1).to(images.dtype) * (out - _gaussian_blur(out, sigma=1.0))
    if params.contrast is not None or params.brightness is not None:
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        if params.contrast is not None:
            out = (out - mean) * params.contrast.view(-1, 1, 1, 1).to(images.dtype) + mean
        if params.brightness is not None:
            out = out + params.brightness.view(-1, 1, 1, 1).to(images.dtype)
    if noise is not None:
        out = out + noise * params.noise_std.view(-1, 1, 1, 1).to(images.dtype)
    return out.clamp(0.0, 1.0)


def _gaussian_blur(images: torch.Tensor, *, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, 1, H, W)`` images, edges replicated."""
    radius = max(1, math.ceil(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-0.5 * (x / sigma) ** 2)
    kernel = kernel / kernel.sum()
    padded = F.pad(images, (radius, radius, radius, radius), mode="replicate")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1))
    return F.conv2d(out, kernel.view(1, 1, -1, 1))


# Mixup (Zhang et al. 2018): the training loop blends images, targets and loss weights in pairs.


def mixup_weights(count: int, *, alpha: float, generator: torch.Generator) -> torch.Tensor:
    """``count`` draws of ``λ ~ Beta(alpha, alpha)``, by inverting the Beta CDF at uniforms from ``generator`` (a
    seeded run mixes the same way every time; torch's Beta sampler takes no generator)."""
    uniforms = torch.rand(count, generator=generator, dtype=torch.float64)
    return torch.from_numpy(beta_distribution.ppf(uniforms.numpy(), alpha, alpha))


def mix(
    batch: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *, alpha: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mixup: each image, target and loss weight blended with those of a random partner in the same batch, with
    one weight per image from :func:`mixup_weights`."""
    lam = mixup_weights(target.numel(), alpha=alpha, generator=generator).to(batch.dtype)
    partner = torch.randperm(target.numel(), generator=generator)
    image_lam = lam.view(-1, *([1] * (batch.dim() - 1)))
    return (
        image_lam * batch + (1 - image_lam) * batch[partner],
        lam * target + (1 - lam) * target[partner],
        lam * weight + (1 - lam) * weight[partner],
    )
