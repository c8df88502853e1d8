"""Heat maps drawn over the X-ray they explain, and their colour scale (matplotlib colour maps)."""

from __future__ import annotations

import matplotlib
import numpy as np

from core.errors import InputError
from core.preprocess import resize, shrink_to_fit

__all__ = [
    "AGREEMENT_RGB",
    "HEAT_COLOURMAPS",
    "LUNG_SIDE_RGB",
    "OUTLINE_RGB",
    "agreement_overlay",
    "colour_bar",
    "describe_heat_in_lungs",
    "draw_outline",
    "heat_inside",
    "heat_overlay",
    "heat_table",
    "heat_weight",
]

#: The lung outline's colour: white reads over grey films and over every heat-map colour scale.
OUTLINE_RGB = (255, 255, 255)

#: Colour maps offered for heat maps: Inferno (the default) and Viridis are perceptually uniform; Jet is what most
#: Grad-CAM figures use, Turbo its smoother successor.
HEAT_COLOURMAPS = ("inferno", "viridis", "jet", "turbo")

#: Below ``_CLEAR`` a heat value is transparent; from there the colour's weight grows linearly to full at ``_FULL``:
#: where there is no evidence the film shows through untinted.
_CLEAR, _FULL = 0.15, 0.6


def heat_weight(heat: np.ndarray) -> np.ndarray:
    """How much of the colour covers the film at each heat value (``[0, 1]``): 0 up to 0.15, 1 from 0.6 on."""
    return np.clip((np.asarray(heat, dtype=np.float32) - _CLEAR) / (_FULL - _CLEAR), 0.0, 1.0)


def heat_table(colourmap: str = "inferno") -> np.ndarray:
    """The colour scale as 256 RGBA entries (uint8) for heat values 0-255, alpha from :func:`heat_weight`."""
    colours = _colourmap(colourmap)(np.linspace(0.0, 1.0, 256))[:, :3]
    alpha = heat_weight(np.linspace(0.0, 1.0, 256))[:, None]
    return np.rint(np.concatenate([colours, alpha], axis=1) * 255).astype(np.uint8)


def _colourmap(name: str) -> matplotlib.colors.Colormap:
    if name not in HEAT_COLOURMAPS:
        raise InputError(f"Unknown colour map '{name}'; choose one of {', '.join(HEAT_COLOURMAPS)}.")
    return matplotlib.colormaps[name]


def heat_overlay(
    pixels: np.ndarray, heat: np.ndarray, *, opacity: float = 0.6, colourmap: str = "inferno", max_side: int = 768
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
        Weight of the colours where the heat is strongest, in ``[0, 1]`` (0: the X-ray alone); weaker heat weighs
        less (:func:`heat_weight`), and none below 0.15.
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
    # the colour map's own table, looked up as matplotlib does (entry floor(h * N)): a few milliseconds for a 768 px
    # overlay instead of tens
    table = colours(np.arange(colours.N))[:, :3].astype(np.float32) * np.float32(255)
    entries = np.minimum((heat * colours.N).astype(np.intp), colours.N - 1)
    weight = (heat_weight(heat) * np.float32(opacity))[..., None]
    grey = (np.clip(base, 0.0, 1.0) * np.float32(255))[..., None]
    blended = grey + weight * (table[entries] - grey)
    return np.rint(np.clip(blended, 0.0, 255.0)).astype(np.uint8)


def draw_outline(
    image: np.ndarray, mask: np.ndarray | None, *, colour: tuple[int, int, int] = OUTLINE_RGB
) -> np.ndarray:
    """An RGB copy of ``image`` (uint8 ``(H, W, 3)``, or grey ``(H, W)`` in ``[0, 1]``) with the outline of ``mask``
    (any size: stretched to the image's) drawn over it, about 2 px wide on a 768 px image. Without a mask, or with
    an empty one, the image as RGB."""
    import cv2

    from core.types import pixels_to_uint8

    rgb = np.repeat(pixels_to_uint8(image)[..., None], 3, axis=2) if np.ndim(image) == 2 else np.array(image)
    if mask is None or not np.any(mask):
        return rgb
    height, width = rgb.shape[:2]
    fitted = cv2.resize(np.asarray(mask, dtype=np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(fitted, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.ascontiguousarray(rgb)
    cv2.drawContours(out, contours, -1, colour, thickness=max(1, round(max(height, width) / 384)),
                     lineType=cv2.LINE_AA)  # fmt: skip
    return out


#: The patient's right and left lungs' tints (Okabe-Ito blue and orange: told apart with every colour vision).
LUNG_SIDE_RGB = {"right": (0, 114, 178), "left": (230, 159, 0)}


#: Agreement of two masks, told apart with every colour vision (Okabe-Ito): only the first orange, only the second
#: sky blue, both white.
AGREEMENT_RGB = {"first": (230, 159, 0), "second": (86, 180, 233), "both": (255, 255, 255)}


def agreement_overlay(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Two masks of one shape as an RGB ``uint8`` image: black where neither holds, :data:`AGREEMENT_RGB` where one
    or both do (e.g. the lungs a reconstruction found against a CT's labels)."""
    first, second = np.asarray(first) > 0.5, np.asarray(second) > 0.5
    if first.shape != second.shape:
        raise InputError(f"The two masks differ in shape: {first.shape} and {second.shape}.")
    out = np.zeros((*first.shape, 3), dtype=np.uint8)
    out[first & ~second] = AGREEMENT_RGB["first"]
    out[second & ~first] = AGREEMENT_RGB["second"]
    out[first & second] = AGREEMENT_RGB["both"]
    return out


def heat_inside(heat: np.ndarray, mask: np.ndarray) -> float | None:
    """The share of a heat map's total inside a mask (the lungs): 1 when all of it is inside, 0 when none is.

    The mask (any size: the X-ray's) is brought to the map's size as fractions (area averaging), so a pixel on the
    outline counts for the part of it that is inside. ``None`` for a map that is zero everywhere.
    """
    import cv2

    heat = np.clip(np.asarray(heat, dtype=np.float64), 0.0, None)
    total = heat.sum()
    if total <= 0:
        return None
    inside = cv2.resize(np.asarray(mask, dtype=np.float32), heat.shape[::-1], interpolation=cv2.INTER_AREA)
    return float((heat * inside).sum() / total)


def describe_heat_in_lungs(share: float | None, target: str, lung_area: float | None = None) -> str:
    """The heat map's share inside the lungs, in a sentence, beside the lungs' share of the image (what a flat map
    would score). A pneumonia map no more on the lungs than a flat map (``share`` ≤ ``lung_area``) is called
    suspect: its evidence lives on labels, corners, devices or the abdomen as much as on the lungs."""
    if share is None:
        return "Heat inside the lungs: not measured (no lungs found, or an empty map)."
    text = f"Heat inside the lungs: {100 * share:.0f} % of the map"
    if lung_area is None:
        return text + "."
    text += f", on lungs that cover {100 * lung_area:.0f} % of the image."
    if target == "PNEUMONIA" and share <= lung_area:
        text += (" This pneumonia map is no more on the lungs than a flat one would be: it is suspect, and so is the "
                 "verdict's evidence.")  # fmt: skip
    return text


def colour_bar(colourmap: str = "inferno", *, width: int = 256, height: int = 14) -> np.ndarray:
    """The colour scale from 0 (left) to 1 (right) as an RGB ``uint8`` image of ``height × width``."""
    ramp = np.tile(np.linspace(0.0, 1.0, width), (height, 1))
    return np.rint(_colourmap(colourmap)(ramp)[..., :3] * 255).astype(np.uint8)
