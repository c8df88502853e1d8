"""What the classifier sees: the seed's preprocessing as the model's input pipeline, and training augmentation.

Input pipeline (the same for training, evaluation and prediction, so a model never sees anything else):

1. a 3×3 median filter on the image at its own resolution (removes salt-and-pepper noise: the seed's first step);
2. resizing to the model's ``S × S`` by area averaging, **stretching** rather than letterboxing: the published data
   set was squashed to a square, so a full-size upload is squashed the same way to look like what the model learnt;
3. normalisation: each image is standardised to zero mean and unit variance inside the model
   (:class:`~core.classify.models.InstanceStandardize`), so the stored input is simply grey levels in ``[0, 1]``.

Augmentation follows TorchIO's rule: :func:`sample_augmentation` draws parameters from a generator,
:func:`augment` applies them deterministically. Chosen for chest radiographs: small rotations, scalings and
shifts (patient positioning), gamma (exposure and detector response), Gaussian noise (quantum noise); no horizontal
flips (the heart is on the left, and a mirrored chest is not a chest X-ray).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.preprocess import median_filter, resize

__all__ = ["AugmentParams", "augment", "model_input", "sample_augmentation"]


def model_input(pixels: np.ndarray, *, size: int) -> np.ndarray:
    """An X-ray prepared for the classifier: median 3×3, then stretched to ``size × size`` by area averaging.

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
    """

    angle_deg: torch.Tensor
    scale: torch.Tensor
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    gamma: torch.Tensor
    noise_std: torch.Tensor


def sample_augmentation(
    batch_size: int,
    *,
    generator: torch.Generator,
    max_angle_deg: float = 10.0,
    max_scale: float = 0.1,
    max_shift: float = 0.06,
    max_log_gamma: float = 0.35,
    max_noise_std: float = 0.03,
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

    Returns
    -------
    AugmentParams
    """

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch_size, generator=generator)

    return AugmentParams(
        angle_deg=uniform(-max_angle_deg, max_angle_deg),
        scale=uniform(1 - max_scale, 1 + max_scale),
        shift_x=uniform(-max_shift, max_shift),
        shift_y=uniform(-max_shift, max_shift),
        gamma=torch.exp(uniform(-max_log_gamma, max_log_gamma)),
        noise_std=uniform(0.0, max_noise_std),
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
    # The intended transform maps input to output coordinates (in [-1, 1]) as x' = s R x + t; affine_grid wants
    # the inverse, x = R^-1 (x' - t) / s.
    angle = params.angle_deg * (math.pi / 180.0)
    cos, sin = torch.cos(angle) / params.scale, torch.sin(angle) / params.scale
    tx, ty = params.shift_x * 2, params.shift_y * 2
    theta = torch.stack(
        [
            torch.stack([cos, sin, -(cos * tx + sin * ty)], dim=1),
            torch.stack([-sin, cos, -(-sin * tx + cos * ty)], dim=1),
        ],
        dim=1,
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out.clamp(0.0, 1.0) ** params.gamma.view(-1, 1, 1, 1).to(images.dtype)
    if noise is not None:
        out = out + noise * params.noise_std.view(-1, 1, 1, 1).to(images.dtype)
    return out.clamp(0.0, 1.0)
