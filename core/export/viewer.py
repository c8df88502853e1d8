"""What the image viewer (cornerstone3D, ``ui/components/viewer``) is given for one image: its pixels at full
resolution, pixel spacing, orientation letters, and the heat map and lung outline to overlay.

Pixels travel as base64 of zlib-deflated little-endian integers: grey levels ``0..max`` with ``max`` 255 for files
stored with 8 bits and 4095 otherwise (the window/level the user reads is in those units, after the file's own
window), heat values as 0-255 with a colour table whose low values are transparent.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib
from typing import Any

import numpy as np

from core.export.heatmap import LUNG_SIDE_RGB, OUTLINE_RGB, heat_table
from core.types import XRay

__all__ = ["grey_levels", "orientation_marks", "outline_rings", "viewer_args", "viewer_pane", "viewer_signature"]

_OPPOSITE = str.maketrans("LRAPHF", "RLPAFH")
#: Images longer than this (px) are shrunk for the browser: larger than any chest detector (43 cm at 0.1 mm).
MAX_SIDE = 4608


def _pack(raw: bytes) -> str:
    """Bytes as the viewer reads them: zlib-deflated (fast level), then base64."""
    return base64.b64encode(zlib.compress(raw, level=1)).decode("ascii")


def grey_levels(xray: XRay) -> int:
    """The largest grey level the viewer shows for ``xray``: 255 for a file stored with 8 bits, else 4095."""
    bits = re.search(r"(\d+)-bit", xray.original_mode)
    return 255 if bits and int(bits.group(1)) <= 8 else 4095


def orientation_marks(xray: XRay) -> dict[str, str] | None:
    """The patient directions at the image's four edges (``{"left": "R", "right": "L", "top": "H", "bottom":
    "F"}``) from DICOM's Patient Orientation (the directions of the rows and the columns), or None where the file
    does not state it (JPEG, PNG, most exports)."""
    letters = re.findall(r"[LRAPHF]+", xray.metadata.get("PatientOrientation", "").upper())
    if len(letters) != 2:
        return None
    row, column = letters
    return {"right": row, "left": row.translate(_OPPOSITE), "bottom": column, "top": column.translate(_OPPOSITE)}


def outline_rings(mask: np.ndarray, shape: tuple[int, int], *, tolerance_px: float = 1.0) -> list[list[list[float]]]:
    """The outer outline of each region of ``mask`` (any size, stretched to ``shape``) as rings of ``[x, y]`` image
    pixel coordinates of ``shape``, simplified to within ``tolerance_px``."""
    import cv2

    mask = np.asarray(mask, dtype=np.uint8)
    scale_x, scale_y = shape[1] / mask.shape[1], shape[0] / mask.shape[0]
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rings = []
    for contour in contours:
        simple = cv2.approxPolyDP(contour, tolerance_px / max(scale_x, scale_y), closed=True)[:, 0, :]
        if len(simple) >= 3:  # pixel centres to pixel-corner coordinates of the image
            rings.append([[round((x + 0.5) * scale_x, 1), round((y + 0.5) * scale_y, 1)] for x, y in simple])
    return rings


def viewer_pane(xray: XRay, *, title: str, pixels: np.ndarray | None = None, heat: np.ndarray | None = None,
                lungs: np.ndarray | None = None, sides: tuple[np.ndarray, np.ndarray] | None = None,
                ) -> dict[str, Any]:  # fmt: skip
    """One pane of the viewer.

    Parameters
    ----------
    xray : XRay
        The image (its pixel spacing and orientation are the file's).
    title : str
        Its caption.
    pixels : ndarray, optional
        Shown instead of ``xray.pixels`` (e.g. the lab's processed image), same convention; the spacing is
        rescaled when its size differs.
    heat : ndarray, optional
        A heat map in ``[0, 1]`` (any size: stretched over the image).
    lungs : ndarray of bool, optional
        A lung mask (any size) whose outline is drawn in white (:data:`~core.export.heatmap.OUTLINE_RGB`).
    sides : (ndarray, ndarray), optional
        The right and the left lung instead, outlined in their colours (:data:`~core.export.heatmap.LUNG_SIDE_RGB`).
    """
    image = np.asarray(xray.pixels if pixels is None else pixels, dtype=np.float32)
    if max(image.shape) > MAX_SIDE:  # beyond any radiograph's detector: shrunk, and the caption says so
        from core.preprocess import shrink_to_fit

        image = shrink_to_fit(image, max_side=MAX_SIDE)
    height, width = image.shape
    most = grey_levels(xray)
    spacing = None
    if xray.pixel_spacing_mm is not None:
        scale_row, scale_column = xray.shape[0] / height, xray.shape[1] / width
        if abs(scale_row - scale_column) <= 0.005 * max(scale_row, scale_column):  # same scale both ways
            spacing = [xray.pixel_spacing_mm[0] * scale_row, xray.pixel_spacing_mm[1] * scale_column]
        # else: stretched or letterboxed (a resize to a square): millimetres would be wrong one way, so px
    levels = np.clip(image, 0.0, 1.0)  # one float copy, then in place: memory stays bounded for 40 megapixels
    np.nan_to_num(levels, copy=False)
    levels *= most
    np.rint(levels, out=levels)
    raw = levels.astype("<u2").tobytes()
    del levels
    pane: dict[str, Any] = {
        "title": title,
        "width": width,
        "height": height,
        "source": [xray.shape[1], xray.shape[0]],
        "max": most,
        "digest": hashlib.sha256(raw).hexdigest(),
        "pixels": _pack(raw),
        "spacing": spacing,
        "spacing_at": spacing and xray.spacing_at,
        "orientation": orientation_marks(xray),
        "heat": None,
        "outline": None,
    }
    if heat is not None:
        values = np.rint(np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0.0, 1.0) * 255).astype(np.uint8)
        pane["heat"] = {"width": values.shape[1], "height": values.shape[0], "data": _pack(values.tobytes())}
    masks = [(OUTLINE_RGB, lungs)] if sides is None else list(zip((LUNG_SIDE_RGB["right"], LUNG_SIDE_RGB["left"]),
                                                                  sides, strict=True))  # fmt: skip
    groups = [{"colour": "#" + bytes(colour).hex(), "rings": outline_rings(mask, (height, width))}
              for colour, mask in masks if mask is not None and np.any(mask)]  # fmt: skip
    pane["outline"] = groups or None
    return pane


def viewer_signature(panes: list[dict[str, Any]], colourmap: str) -> str:
    """Identifies what the viewer shows: the same signature keeps the user's zoom, window and measurements."""
    digest = hashlib.sha256(colourmap.encode())
    for pane in panes:  # the pixels by their digest: the payload itself is tens of MB
        small = {key: value for key, value in pane.items() if key not in ("pixels", "heat")}
        digest.update(repr(small).encode())
        digest.update((pane["heat"] or {}).get("data", "").encode())
    return digest.hexdigest()[:16]


def viewer_args(panes: list[dict[str, Any]], *, colourmap: str = "inferno", height: int = 520,
                outline: bool = False, opacity: float = 0.6) -> dict[str, Any]:  # fmt: skip
    """The viewer's arguments for ``panes`` (:func:`viewer_pane`): one image, or two compared side by side."""
    return {
        "panes": panes,
        "lut": heat_table(colourmap).tolist(),
        "height": height,
        "outline": outline,
        "opacity": opacity,
        "signature": viewer_signature(panes, colourmap),
    }
