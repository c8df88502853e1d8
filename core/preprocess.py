"""Image filters and morphology: pure functions on images in the project's convention (OpenCV, scikit-image).

Every function takes a float32 ``(H, W)`` image (see :mod:`core.types`), never modifies it, and returns a new
float32 image. Values stay in ``[0, 1]`` except after :func:`standardize` (z-score). OpenCV is called on
``uint8``/``uint16`` copies only where it has no float kernel, and the precision used is stated per function.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from skimage.util import random_noise

from core.errors import InputError
from core.types import pixels_to_uint8, pixels_to_uint16

__all__ = [
    "MORPHOLOGY_OPERATIONS",
    "STRUCTURING_SHAPES",
    "add_salt_and_pepper",
    "apply_clahe",
    "equalize_histogram",
    "letterbox_box",
    "median_filter",
    "morphology",
    "morphology_views",
    "normalize_minmax",
    "resize",
    "shrink_to_fit",
    "standardize",
    "structuring_element",
]

MorphologyOperation = Literal["erode", "dilate", "open", "close", "gradient", "tophat", "blackhat"]
StructuringShape = Literal["ellipse", "rect", "cross"]

MORPHOLOGY_OPERATIONS: dict[str, int] = {
    "erode": cv2.MORPH_ERODE,
    "dilate": cv2.MORPH_DILATE,
    "open": cv2.MORPH_OPEN,
    "close": cv2.MORPH_CLOSE,
    "gradient": cv2.MORPH_GRADIENT,
    "tophat": cv2.MORPH_TOPHAT,
    "blackhat": cv2.MORPH_BLACKHAT,
}
STRUCTURING_SHAPES: dict[str, int] = {
    "ellipse": cv2.MORPH_ELLIPSE,
    "rect": cv2.MORPH_RECT,
    "cross": cv2.MORPH_CROSS,
}


def _image(pixels: np.ndarray) -> np.ndarray:
    """Validate an image argument and return it as contiguous float32 (a copy only when needed)."""
    array = np.asarray(pixels)
    if array.ndim != 2:
        raise InputError(f"Expected a greyscale image of shape (H, W); got an array of shape {array.shape}.")
    if array.size == 0:
        raise InputError("Expected a non-empty image; got an array with no pixels.")
    if not np.issubdtype(array.dtype, np.floating) and not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"Expected numeric pixels; got dtype {array.dtype}.")
    return np.ascontiguousarray(array, dtype=np.float32)


def _odd_at_least(value: int, minimum: int, what: str) -> int:
    value = int(value)
    if value < minimum or value % 2 == 0:
        raise InputError(f"{what} must be an odd number of pixels of at least {minimum}; got {value}.")
    return value


# --------------------------------------------------------------------------------------------------------------
# Noise and denoising


def add_salt_and_pepper(
    pixels: np.ndarray, *, amount: float = 0.05, salt_fraction: float = 0.5, seed: int = 0
) -> np.ndarray:
    """Set a random fraction of pixels to 0 (pepper) or 1 (salt), to demonstrate the median filter.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        Image in ``[0, 1]``.
    amount : float
        Fraction of pixels replaced, in ``[0, 1]``.
    salt_fraction : float
        Of those, the fraction set to 1 (the rest set to 0).
    seed : int
        Seed of the random generator; the same seed gives the same noise.

    Returns
    -------
    ndarray of float32, shape (H, W)
    """
    image = _image(pixels)
    if not 0.0 <= amount <= 1.0 or not 0.0 <= salt_fraction <= 1.0:
        raise InputError(f"Noise amount and salt fraction must lie in [0, 1]; got {amount} and {salt_fraction}.")
    noisy = random_noise(
        np.clip(image, 0, 1), mode="s&p", amount=amount, salt_vs_pepper=salt_fraction, rng=seed, clip=True
    )
    return noisy.astype(np.float32)


def median_filter(pixels: np.ndarray, *, kernel_size: int = 3) -> np.ndarray:
    """Replace each pixel by the median of its ``kernel_size × kernel_size`` neighbourhood.

    The filter of choice for salt-and-pepper noise: isolated outliers never reach the median, while edges are
    kept. Kernels of 3 and 5 run on float32 (exact); larger ones on 8-bit values (OpenCV has no float kernel for
    them), so the result is quantised to 1/255.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        Image in ``[0, 1]``.
    kernel_size : int
        Odd side of the square window, at least 3.

    Returns
    -------
    ndarray of float32, shape (H, W)
    """
    image = _image(pixels)
    size = _odd_at_least(kernel_size, 3, "The median filter's kernel size")
    if size <= 5:
        return cv2.medianBlur(image, size)
    return cv2.medianBlur(pixels_to_uint8(image), size).astype(np.float32) / 255.0


# --------------------------------------------------------------------------------------------------------------
# Contrast


def equalize_histogram(pixels: np.ndarray) -> np.ndarray:
    """Global histogram equalisation: spread the intensities so that their histogram is roughly flat.

    Computed on 256 levels (OpenCV's ``equalizeHist``), so the result is quantised to 1/255.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        Image in ``[0, 1]``.

    Returns
    -------
    ndarray of float32, shape (H, W)
    """
    image = _image(pixels)
    return cv2.equalizeHist(pixels_to_uint8(image)).astype(np.float32) / 255.0


def apply_clahe(pixels: np.ndarray, *, clip_limit: float = 2.0, tile_grid: int = 8) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation (Zuiderveld 1994), OpenCV's implementation.

    Equalises each tile of a ``tile_grid × tile_grid`` grid separately, with the histogram clipped at
    ``clip_limit`` times its mean so that noise in flat regions is not amplified. Runs on 16-bit values, so
    high-bit-depth images keep their precision.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
        Image in ``[0, 1]``.
    clip_limit : float
        Contrast limit, > 0; 1 is almost no change, 2-4 is usual for radiographs.
    tile_grid : int
        Number of tiles along each axis, at least 1.

    Returns
    -------
    ndarray of float32, shape (H, W)
    """
    image = _image(pixels)
    if clip_limit <= 0 or int(tile_grid) < 1:
        raise InputError(f"CLAHE needs a clip limit > 0 and at least 1 tile; got {clip_limit} and {tile_grid}.")
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(int(tile_grid), int(tile_grid)))
    return clahe.apply(pixels_to_uint16(image)).astype(np.float32) / 65535.0


# --------------------------------------------------------------------------------------------------------------
# Normalisation


def normalize_minmax(pixels: np.ndarray, *, low_percentile: float = 0.0, high_percentile: float = 100.0) -> np.ndarray:
    """Stretch intensities linearly so that the given percentiles map to 0 and 1 (values beyond are clipped).

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
    low_percentile, high_percentile : float
        Percentiles in ``[0, 100]`` mapped to 0 and 1; 0 and 100 are the plain minimum and maximum, 1 and 99
        ignore outliers such as burnt-in labels.

    Returns
    -------
    ndarray of float32, shape (H, W)
        In ``[0, 1]``; all zeros for a constant image.
    """
    image = _image(pixels)
    if not 0.0 <= low_percentile < high_percentile <= 100.0:
        raise InputError(f"Percentiles must satisfy 0 ≤ low < high ≤ 100; got {low_percentile} and {high_percentile}.")
    low, high = np.percentile(image, [low_percentile, high_percentile])
    if high <= low:
        return np.zeros_like(image)
    return np.clip((image - low) / (high - low), 0.0, 1.0).astype(np.float32)


def standardize(pixels: np.ndarray) -> np.ndarray:
    """Z-score normalisation: subtract the mean, divide by the standard deviation.

    The result is no longer in ``[0, 1]`` (mean 0, standard deviation 1); this is what a CNN's input layer
    usually expects.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)

    Returns
    -------
    ndarray of float32, shape (H, W)
        All zeros for a constant image.
    """
    image = _image(pixels)
    mean, std = float(image.mean(dtype=np.float64)), float(image.std(dtype=np.float64))
    if std == 0.0:
        return np.zeros_like(image)
    return ((image - mean) / std).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------
# Resizing


def letterbox_box(shape: tuple[int, int], size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where an image of ``shape`` lands inside ``size`` when resized keeping its aspect ratio.

    Parameters
    ----------
    shape : (int, int)
        ``(H, W)`` of the source image.
    size : (int, int)
        ``(H, W)`` of the target canvas.

    Returns
    -------
    (top, left, height, width) : tuple of int
        The scaled image's position and size on the canvas (centred; the rest is padding).
    """
    (height, width), (target_h, target_w) = shape, size
    scale = min(target_h / height, target_w / width)
    new_h = max(1, min(target_h, round(height * scale)))
    new_w = max(1, min(target_w, round(width * scale)))
    return (target_h - new_h) // 2, (target_w - new_w) // 2, new_h, new_w


def resize(
    pixels: np.ndarray, *, size: tuple[int, int], keep_aspect: bool = True, pad_value: float = 0.0
) -> np.ndarray:
    """Resize to ``size``, either keeping the aspect ratio (scaled to fit, centred, padded) or stretching.

    Area averaging is used when shrinking (no aliasing) and bicubic interpolation when enlarging.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
    size : (int, int)
        Target ``(H, W)`` in pixels, each at least 1.
    keep_aspect : bool
        ``True`` to letterbox (anatomy keeps its proportions), ``False`` to stretch to fill.
    pad_value : float
        Intensity of the padding when ``keep_aspect`` (0, black, matches the air around a chest).

    Returns
    -------
    ndarray of float32, shape size
    """
    image = _image(pixels)
    target_h, target_w = (int(s) for s in size)
    if target_h < 1 or target_w < 1:
        raise InputError(f"The target size must be at least 1×1 px; got {target_w}×{target_h}.")
    if not keep_aspect:
        return _resample(image, target_h, target_w)
    top, left, new_h, new_w = letterbox_box(image.shape, (target_h, target_w))
    canvas = np.full((target_h, target_w), pad_value, dtype=np.float32)
    canvas[top : top + new_h, left : left + new_w] = _resample(image, new_h, new_w)
    return canvas


def shrink_to_fit(pixels: np.ndarray, *, max_side: int) -> np.ndarray:
    """Shrink an image, keeping its aspect ratio, so that its longer side is at most ``max_side`` pixels.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
    max_side : int
        Largest side of the result, at least 2.

    Returns
    -------
    ndarray of float32, shape (h, w)
        With ``max(h, w) <= max_side``; a copy of the input if it is already small enough (never enlarged).
    """
    image = _image(pixels)
    if int(max_side) < 2:
        raise InputError(f"An image needs at least 2 pixels per side; got max_side={max_side}.")
    height, width = image.shape
    scale = min(1.0, int(max_side) / max(height, width))
    return _resample(image, max(1, round(height * scale)), max(1, round(width * scale)))


def _resample(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if (height, width) == image.shape:
        return image.copy()
    shrinking = height * width < image.shape[0] * image.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    resampled = cv2.resize(image, (width, height), interpolation=interpolation)
    # Bicubic interpolation overshoots at sharp edges; keep the input's range.
    return np.clip(resampled, image.min(), image.max()).astype(np.float32)


# --------------------------------------------------------------------------------------------------------------
# Morphology


def structuring_element(shape: StructuringShape, size: int) -> np.ndarray:
    """A ``size × size`` structuring element: ``"ellipse"`` (a disk), ``"rect"`` (a square) or ``"cross"``.

    Returns
    -------
    ndarray of uint8, shape (size, size)
        1 inside the element, 0 outside.
    """
    if shape not in STRUCTURING_SHAPES:
        raise InputError(f"Unknown structuring element '{shape}'; choose one of {', '.join(STRUCTURING_SHAPES)}.")
    size = _odd_at_least(size, 1, "The structuring element's size")
    return cv2.getStructuringElement(STRUCTURING_SHAPES[shape], (size, size))


def morphology(
    pixels: np.ndarray,
    *,
    operation: MorphologyOperation,
    shape: StructuringShape = "ellipse",
    size: int = 5,
    iterations: int = 1,
) -> np.ndarray:
    """Greyscale morphology with a structuring element (OpenCV, on float32).

    - ``erode``: minimum over the element; dark regions grow, bright specks smaller than it vanish.
    - ``dilate``: maximum; bright regions grow, dark specks vanish.
    - ``open``: erode then dilate; removes bright details smaller than the element, keeps larger shapes.
    - ``close``: dilate then erode; fills dark gaps smaller than the element.
    - ``gradient``: dilation minus erosion; outlines edges.
    - ``tophat``: image minus its opening; keeps only the small bright details.
    - ``blackhat``: closing minus image; keeps only the small dark details.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
    operation : str
        One of the above.
    shape : {"ellipse", "rect", "cross"}
        Shape of the structuring element.
    size : int
        Odd side of the element in pixels.
    iterations : int
        How many times the basic erosion/dilation is applied, at least 1.

    Returns
    -------
    ndarray of float32, shape (H, W)
    """
    image = _image(pixels)
    if operation not in MORPHOLOGY_OPERATIONS:
        raise InputError(
            f"Unknown morphological operation '{operation}'; choose one of {', '.join(MORPHOLOGY_OPERATIONS)}."
        )
    if int(iterations) < 1:
        raise InputError(f"Morphology needs at least 1 iteration; got {iterations}.")
    element = structuring_element(shape, size)
    return cv2.morphologyEx(
        image,
        MORPHOLOGY_OPERATIONS[operation],
        element,
        iterations=int(iterations),
        borderType=cv2.BORDER_REFLECT,
    )


def morphology_views(
    pixels: np.ndarray, *, shape: StructuringShape = "ellipse", size: int = 5
) -> dict[str, np.ndarray]:
    """Every morphological operation applied to the same image with the same element, for side-by-side views.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)
    shape : {"ellipse", "rect", "cross"}
    size : int
        Odd side of the element in pixels.

    Returns
    -------
    dict of str to ndarray of float32, shape (H, W)
        Keyed by operation name, in the order of :data:`MORPHOLOGY_OPERATIONS`.
    """
    return {op: morphology(pixels, operation=op, shape=shape, size=size) for op in MORPHOLOGY_OPERATIONS}
