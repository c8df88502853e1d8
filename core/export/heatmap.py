"""Heat maps drawn over the X-ray they explain, and their colour scale (matplotlib colour maps)."""

from __future__ import annotations

import matplotlib
import numpy as np

from core.errors import InputError
from core.preprocess import resize, shrink_to_fit

__all__ = ["HEAT_COLOURMAPS", "colour_bar", "heat_overlay"]

#: Colour maps offered for heat maps: Jet is what most Grad-CAM figures use; the others are perceptually uniform.
HEAT_COLOURMAPS = ("jet", "turbo", "inferno", "viridis")


def _colourmap(name: str) -> matplotlib.colors.Colormap:
    if name not in HEAT_COLOURMAPS:
        raise InputError(f"Unknown colour map '{name}'; choose one of {', '.join(HEAT_COLOURMAPS)}.")
    return matplotlib.colormaps[name]


def heat_overlay(
    pixels: np.ndarray, heat: np.ndarray, *, opacity: float = 0.45, colourmap: str = "jet", max_side: int = 768
) -> np.ndarray:
    """The X-ray in grey with the heat map blended over it in colour.

    The heat map (computed on the model's square input) is stretched back to the image's own proportions, the
    inverse of the stretch the model's input pipeline applied.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        The X-ray, grey levels in ``[0, 1]``.
    heat : ndarray, shape (h, w)
        Values in ``[0, 1]``.
    opacity : float
        Weight of the colours, in ``[0, 1]`` (0: the X-ray alone).
    colourmap : str
        One of :data:`HEAT_COLOURMAPS`.
    max_side : int
        The result's longer side at most (the X-ray is shrunk, never enlarged).

    Returns
    -------
    ndarray of uint8, shape (H', W', 3)
        RGB.
    """
    if not 0.0 <= opacity <= 1.0:
        raise InputError(f"The heat map's opacity must lie in [0, 1]; got {opacity}.")
    colours = _colourmap(colourmap)
    base = shrink_to_fit(pixels, max_side=max_side)
    heat = np.clip(resize(np.clip(heat, 0.0, 1.0), size=base.shape, keep_aspect=False), 0.0, 1.0)
    # the colour map's own table, looked up as matplotlib does (entry floor(h * N)), weighted once: a few
    # milliseconds for a 768 px overlay instead of tens
    table = colours(np.arange(colours.N))[:, :3].astype(np.float32) * np.float32(255 * opacity)
    entries = np.minimum((heat * colours.N).astype(np.intp), colours.N - 1)
    blended = table[entries]
    blended += (np.clip(base, 0.0, 1.0) * np.float32(255 * (1.0 - opacity)))[..., None]
    return np.rint(np.clip(blended, 0.0, 255.0)).astype(np.uint8)


def colour_bar(colourmap: str = "jet", *, width: int = 256, height: int = 14) -> np.ndarray:
    """The colour scale from 0 (left) to 1 (right) as an RGB ``uint8`` image of ``height × width``."""
    ramp = np.tile(np.linspace(0.0, 1.0, width), (height, 1))
    return np.rint(_colourmap(colourmap)(ramp)[..., :3] * 255).astype(np.uint8)
