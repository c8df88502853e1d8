"""The lung model's pairs of radiograph and mask: real films with human-drawn masks, and radiographs simulated from
chest CTs with their lungs' exact silhouettes.

**Real** (``cxr_lung_masks``): only rows marked ``train-ok`` in the manifest train the shipped model; the
``evaluation-only`` rows are split, by a rule fixed before training, into validation (the first hex digit of the
SHA-256 of the image's file name is 0-7) and test (8-f), which is reported once.

**Simulated** (``chest_ct``, ``chest_ct_more``): parallel-beam radiographs (:mod:`core.reconstruct.projection`) at
frontal angles (-20° to 20°) and lateral ones (70° to 110°, 250° to 290°), each with its lungs' silhouette, resampled
to square pixels. One CT (:data:`HELD_OUT_CT`) never trains: it scores the model on an unseen patient.

Every image becomes the model's square input as an upload does (:func:`to_input`): grey ``[0, 1]``, squashed to
``size × size`` by area averaging.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import InputError
from core.types import Volume

__all__ = [
    "CT_CASES",
    "HELD_OUT_CT",
    "RealPair",
    "load_ct_case",
    "load_real",
    "real_pairs",
    "simulated_pairs",
    "to_input",
]

#: Chest CTs with lung labels: name → (CT file, label file, lung label ids), relative to the shared data folder.
CT_CASES = {
    "chest_ct": ("chest_ct/cxr.nii.gz", "chest_ct/mask.nii.gz", (10, 11, 12, 13, 14)),
    "4dlung_113": ("chest_ct_more/4dlung_113_ct.nii.gz", "chest_ct_more/4dlung_113_lungs.nii.gz", (1, 2)),
    "lung_dx_a0001": ("chest_ct_more/lung_dx_a0001_ct.nii.gz", "chest_ct_more/lung_dx_a0001_lungs.nii.gz", (1, 2)),
    "radiogenomics_r01_001": ("chest_ct_more/radiogenomics_r01_001_ct.nii.gz",
                              "chest_ct_more/radiogenomics_r01_001_lungs.nii.gz", (1, 2)),
}  # fmt: skip
#: The CT that never trains (the whole thorax in view).
HELD_OUT_CT = "radiogenomics_r01_001"
FRONTAL_ANGLES = (-20.0, -15.0, -10.0, -5.0, 0.0, 5.0, 10.0, 15.0, 20.0)
LATERAL_ANGLES = (70.0, 80.0, 90.0, 100.0, 110.0, 250.0, 260.0, 270.0, 280.0, 290.0)


@dataclass(frozen=True)
class RealPair:
    """One real film and its mask.

    Attributes
    ----------
    name : str
    image, mask : Path
    view : str
        ``PA``, ``AP``, ``AP Supine`` (as the manifest says).
    part : str
        ``train`` (``train-ok`` rows), ``validation`` or ``test`` (``evaluation-only`` rows, by the rule above).
    """

    name: str
    image: Path
    mask: Path
    view: str
    part: str


def _part(row: dict[str, str]) -> str:
    if row["use"] == "train-ok":
        return "train"
    if row["use"] != "evaluation-only":
        raise InputError(f"Unknown use '{row['use']}' for '{row['image']}' in the manifest.")
    return "validation" if hashlib.sha256(row["image"].encode()).hexdigest()[0] in "01234567" else "test"


def real_pairs(root: str | Path) -> list[RealPair]:
    """Every pair of ``cxr_lung_masks`` (``root``), with its part."""
    root = Path(root)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise InputError(f"'{root}' has no manifest.csv: give the cxr_lung_masks folder.")
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [RealPair(name=r["image"], image=root / "images" / r["image"], mask=root / "masks" / r["mask"],
                     view=r["view"], part=_part(r)) for r in rows]  # fmt: skip


def to_input(pixels: np.ndarray, size: int) -> np.ndarray:
    """An image (grey ``[0, 1]``, or a mask as 0/1) squashed to ``size × size`` by area averaging: float32."""
    return cv2.resize(np.asarray(pixels, dtype=np.float32), (size, size), interpolation=cv2.INTER_AREA)


def load_real(pair: RealPair, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A real pair as the model's input and target: ``(size, size)`` float32 image and mask fraction."""
    from core.io import read_xray_file

    image = read_xray_file(pair.image).pixels
    mask = cv2.imread(str(pair.mask), cv2.IMREAD_GRAYSCALE)
    if mask is None or mask.shape != image.shape:
        raise InputError(f"The mask of '{pair.name}' is missing or not the image's size.")
    return to_input(image, size), to_input(mask > 127, size)


def load_ct_case(shared: str | Path, case: str, *, side: int) -> tuple[Volume, Volume]:
    """One CT of :data:`CT_CASES` as attenuation (1/mm) and its lung mask, axial slices resampled to ``side``²."""
    from core.io import read_volume
    from core.reconstruct.volume import attenuation, label_mask, resample_to

    ct_file, label_file, ids = CT_CASES[case]
    shared = Path(shared)
    mu = resample_to(attenuation(read_volume(shared / ct_file)), side=side)
    return mu, resample_to(label_mask(read_volume(shared / label_file, unit="label"), ids), side=side)


def simulated_pairs(shared: str | Path, case: str, angles: tuple[float, ...], *, size: int,
                    side: int = 256) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Radiographs of one CT at ``angles`` and their lungs' silhouettes, at square pixels, as the model's input.

    Returns
    -------
    images, masks : ndarray of float32, shape (N, size, size)
    """
    from core.reconstruct.hull import silhouettes
    from core.reconstruct.projection import parallel_beam, radiograph

    mu, lungs = load_ct_case(shared, case, side=side)
    views = parallel_beam(mu, np.asarray(angles))
    outlines = silhouettes(lungs, np.asarray(angles))
    rows = max(1, round(views.images.shape[1] * views.pixel_mm[0] / views.pixel_mm[1]))  # square pixels
    images, masks = [], []
    for index in range(len(angles)):
        image = cv2.resize(radiograph(views, index), (side, rows), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(outlines.images[index][::-1].astype(np.float32), (side, rows), interpolation=cv2.INTER_AREA)
        images.append(to_input(image, size))
        masks.append(to_input(mask, size))
    return np.stack(images), np.stack(masks)
