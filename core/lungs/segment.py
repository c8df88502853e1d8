"""Lung masks of X-rays at their own size, right and left told apart: what the CLI (``python -m core segment``), the
pages and the benchmark share.

Build one :class:`LungSegmenter` per process and call :meth:`LungSegmenter.segment` per image. The network sees the
image squashed to its square input (as in training); its probabilities are brought back to the image's size
(bilinear) and thresholded at one half; specks under 0.5 % of the image are dropped and holes filled. Right and left
(:func:`split_sides`): the patient's right lung is on the image's left, as a frontal radiograph is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from scipy import ndimage

from core.errors import InputError
from core.lungs.data import to_input
from core.lungs.model import DEFAULT_LUNG_MODEL, load_lung_model

__all__ = ["LungMask", "LungSegmenter", "split_sides"]

_SPECK = 0.005  # regions smaller than this share of the image are dropped


@dataclass(frozen=True)
class LungMask:
    """The lungs found in one image, at its size.

    Attributes
    ----------
    right, left : ndarray of bool, shape (H, W)
        The patient's right lung (on the image's left) and left lung; either may be empty.
    """

    right: np.ndarray
    left: np.ndarray

    @property
    def lungs(self) -> np.ndarray:
        """Both lungs."""
        return self.right | self.left

    @property
    def area_share(self) -> float:
        """The share of the image that is lung."""
        return float(self.lungs.mean())


def split_sides(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A lung mask split into the patient's right (image left) and left lungs.

    Regions of at least a fifth of the largest are kept (smaller ones are specks); a region that spans the middle
    third of the image (lungs touching behind the heart) is cut at the column there where it is thinnest; every
    piece then goes to the side of the image its centre lies on, so a lung in two pieces stays whole.
    """
    mask = np.asarray(mask, dtype=bool)
    labels, count = ndimage.label(mask)
    right, left = np.zeros_like(mask), np.zeros_like(mask)
    if count == 0:
        return right, left
    sizes = np.bincount(labels.ravel())[1:]
    width = mask.shape[1]
    low, high = width // 3, 2 * width // 3
    for index in np.nonzero(sizes >= 0.2 * sizes.max())[0] + 1:
        region = labels == index
        columns = np.nonzero(region.any(axis=0))[0]
        if columns.min() < low and columns.max() > high:  # spans the middle: cut where it is thinnest
            cut = low + int(np.argmin(region[:, low:high].sum(axis=0)))
            right[:, :cut] |= region[:, :cut]
            left[:, cut:] |= region[:, cut:]
            continue
        side = right if ndimage.center_of_mass(region)[1] < width / 2 else left
        side |= region
    return right, left


class LungSegmenter:
    """A loaded lung model.

    Parameters
    ----------
    path : str or Path
        A lung checkpoint; the shipped one when omitted.
    """

    def __init__(self, path: str | Path = DEFAULT_LUNG_MODEL) -> None:
        self.model, self.meta = load_lung_model(path)
        self.size: int = int(self.meta["recipe"]["size"])

    @torch.inference_mode()
    def _small(self, pixels: np.ndarray) -> np.ndarray:
        """Lung probabilities at the network's square input size."""
        pixels = np.asarray(pixels, dtype=np.float32)
        if pixels.ndim != 2 or min(pixels.shape) < 16:
            raise InputError(f"Lungs are segmented in a 2D image of at least 16×16 px; got shape {pixels.shape}.")
        inputs = torch.from_numpy(to_input(pixels, self.size))[None, None]
        return torch.sigmoid(self.model(inputs.contiguous(memory_format=torch.channels_last)))[0, 0].numpy()

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Lung probabilities ``(H, W)`` of an image in the convention (grey ``[0, 1]``), at its size."""
        height, width = np.shape(pixels)
        return cv2.resize(self._small(pixels), (width, height), interpolation=cv2.INTER_LINEAR)

    def find(self, image: np.ndarray, angle_deg: float = 0.0) -> np.ndarray:
        """Both lungs of a radiograph of any range (bright = dense, superior up; scaled to ``[0, 1]`` by its 99.5th
        percentile when it is not in it), as a bool mask of its shape: the
        :data:`core.reconstruct.methods.Segmenter` the 3D reconstructions take. The network was trained on frontal
        and lateral views alike, so the angle only names the view."""
        image = np.asarray(image, dtype=np.float32)
        if not np.isfinite(image).all():
            raise InputError("The image holds values that are not finite numbers: no lungs can be found in it.")
        if image.size and (image.min() < 0 or image.max() > 1):
            low, high = float(image.min()), float(np.percentile(image, 99.5))
            image = np.clip((image - low) / ((high - low) or 1.0), 0.0, 1.0)
        return self.segment(image).lungs

    def segment(self, pixels: np.ndarray) -> LungMask:
        """The lungs of one image (grey ``[0, 1]``, any size), right and left.

        The regions are cleaned and split at the network's size (cheap), then each side's probability is brought
        to the image's size and thresholded there, so the outline keeps the resolution of the probabilities.
        """
        small = self._small(pixels)
        mask = small >= 0.5
        labels, count = ndimage.label(mask)
        if count:
            sizes = np.bincount(labels.ravel())
            sizes[0] = 0
            mask = sizes[labels] >= _SPECK * mask.size
        filled = ndimage.binary_fill_holes(mask)
        right, left = split_sides(filled)
        height, width = np.shape(pixels)
        full = []
        for side in (right, left):
            # the side's own probability (holes filled in it); outside the side, none
            probability = np.where(side, np.maximum(small, (filled & ~mask).astype(np.float32)), 0.0)
            full.append(cv2.resize(probability.astype(np.float32), (width, height),
                                   interpolation=cv2.INTER_LINEAR) >= 0.5)  # fmt: skip
        return LungMask(right=full[0], left=full[1])
