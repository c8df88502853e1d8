"""Types passed between the stages of the workstation, and the conventions they follow.

Conventions (written once, here):

- **Image** – an X-ray's pixels are a ``float32`` array of shape ``(H, W)`` (rows, columns) with values in
  ``[0, 1]``, displayed as a radiograph is read: 0 is black (little attenuation, air), 1 is white (bone, metal).
  DICOM ``MONOCHROME1`` images are inverted on input so that this holds for every source. 8-bit data is divided
  by 255; higher bit depths by the largest value their significant bits can hold; DICOM data goes through its
  modality LUT (rescale slope/intercept) and VOI LUT (window centre/width) first.
- ``uint8`` and BGR appear only around OpenCV calls inside :mod:`core.preprocess`.
- Arrays held by these dataclasses are read-only, so a stage can never modify its input in place.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath
from types import MappingProxyType

import numpy as np

from core.errors import ModelError


def reading(label: str, borderline: bool, unfamiliar: bool = False) -> str:
    """How a verdict reads: ``"unreliable: unfamiliar image (reads PNEUMONIA)"`` for an image unlike the training
    images, ``"borderline: review (leans PNEUMONIA)"`` in the model's borderline band, else the label."""
    if unfamiliar:
        return f"unreliable: unfamiliar image (reads {label})"
    return f"borderline: review (leans {label})" if borderline else label


#: Reports how far a slow computation has come: called with the share done, from 0 to 1 (Score-CAM, SART).
Progress = Callable[[float], None]


#: What a flagged image is told, in the words users see.
UNFAMILIAR = "This image is unlike the images the model learned from"


#: The borderline band around a model's threshold holds the validation images nearest it that the model classified
#: with less than this accuracy (:func:`core.classify.calibration.choose_band`).
BORDERLINE_ACCURACY = 0.8


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only view of ``array`` (the caller's array is left writable)."""
    view = array.view()
    view.setflags(write=False)
    return view


@dataclass(frozen=True)
class XRay:
    """A decoded radiograph in the project's convention.

    Attributes
    ----------
    pixels : ndarray of float32, shape (H, W)
        Intensities in ``[0, 1]``, 0 black (air), 1 white (bone).
    name : str
        The file name it came from (no directory), for messages and records.
    source_format : str
        ``"JPEG"``, ``"PNG"`` or ``"DICOM"``.
    original_mode : str
        How the file stored its pixels, e.g. ``"L 8-bit"``, ``"RGBA 8-bit"``, ``"MONOCHROME1 12-bit"``.
    pixel_spacing_mm : tuple of float or None
        ``(row, column)`` spacing in millimetres where the file states it (DICOM), else ``None``.
    spacing_at : str or None
        Where that spacing holds: ``"patient"`` (DICOM Pixel Spacing) or ``"detector"`` (Imager Pixel Spacing:
        distances in the body are smaller by the beam's magnification, about 10 % for a chest film).
    notes : tuple of str
        What the loader did to reach the convention (EXIF rotation, alpha dropped, inversion, windowing), in
        plain words for the user.
    metadata : mapping of str to str
        Technical tags worth showing (DICOM modality, body part, view position); no patient identifiers.
    sha256 : str
        Hex SHA-256 of the file's bytes: identifies an upload without storing it.
    colour : bool
        The file held a colour image (its channels differ), converted to grey: a hint that it may be a photograph
        or screenshot rather than a radiograph.
    """

    pixels: np.ndarray
    name: str
    source_format: str
    original_mode: str
    pixel_spacing_mm: tuple[float, float] | None = None
    spacing_at: str | None = None
    notes: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    sha256: str = ""
    colour: bool = False

    def __post_init__(self) -> None:
        pixels = np.asarray(self.pixels)
        if pixels.ndim != 2 or pixels.dtype != np.float32:
            raise TypeError(f"XRay.pixels must be a float32 (H, W) array, got {pixels.dtype} {pixels.shape}.")
        object.__setattr__(self, "pixels", _frozen(pixels))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` in pixels."""
        return self.pixels.shape  # type: ignore[return-value]


def pixels_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Convert an image in the convention (float in ``[0, 1]``) to ``uint8`` (0-255), clipping and rounding.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)

    Returns
    -------
    ndarray of uint8, shape (H, W)
    """
    return np.rint(np.clip(pixels, 0.0, 1.0) * 255.0).astype(np.uint8)


def pixels_to_uint16(pixels: np.ndarray) -> np.ndarray:
    """Convert an image in the convention to ``uint16`` (0-65535), for OpenCV calls that keep precision.

    Parameters
    ----------
    pixels : ndarray, shape (H, W)

    Returns
    -------
    ndarray of uint16, shape (H, W)
    """
    return np.rint(np.clip(pixels, 0.0, 1.0) * 65535.0).astype(np.uint16)


@dataclass(frozen=True)
class OutOfDistribution:
    """How unlike the model's training images one image is (:mod:`core.classify.ood`).

    Attributes
    ----------
    score : float
        Cosine distance of the image's features to the training images' (0 alike, up to 2).
    threshold : float
        The model's threshold: at most 5 % of its validation images score above it.
    """

    score: float
    threshold: float

    def __post_init__(self) -> None:
        if not all(isinstance(v, int | float | np.floating) and math.isfinite(v) for v in (self.score, self.threshold)):
            raise ModelError("The model gave no valid out-of-distribution score for this image (not a finite number).")

    @property
    def flag(self) -> bool:
        """Whether the image is unfamiliar: its score is above the threshold."""
        return self.score > self.threshold

    def explanation(self) -> str:
        """A sentence: what the score says about the image."""
        if self.flag:
            return (f"{UNFAMILIAR} (unfamiliarity {self.score:.3f} > {self.threshold:.3f}, the model's threshold, "
                    "which few of its own validation images exceed): the verdict is unreliable.")  # fmt: skip
        return (f"Unfamiliarity {self.score:.3f} ≤ {self.threshold:.3f}: not flagged (the check catches most images "
                "unlike the training images, not all).")  # fmt: skip


@dataclass(frozen=True)
class Prediction:
    """A classifier's verdict on one X-ray.

    Attributes
    ----------
    label : str
        ``"NORMAL"`` or ``"PNEUMONIA"``: PNEUMONIA when its probability (the *score*) is at least ``threshold``.
    probabilities : mapping of str to float
        Calibrated probability of each label (they sum to 1).
    threshold : float
        The model's decision threshold on the probability of PNEUMONIA (chosen on validation data).
    model : str
        Which model decided: ``"<file> (<arch>, epoch N, <date>)"``.
    band : (float, float), optional
        The model's borderline band: scores strictly between these probabilities read "borderline: review"
        (chosen on validation, see :func:`core.classify.calibration.choose_band`); ``None`` when it has none.
    threshold_purpose : str
        What the threshold was chosen for, as a phrase: "set on validation data for ...".
    out_of_distribution : OutOfDistribution, optional
        How unlike the training images the image is; ``None`` when the model gives no such score.
    """

    label: str
    probabilities: Mapping[str, float]
    threshold: float
    model: str
    band: tuple[float, float] | None = None
    threshold_purpose: str = ""
    out_of_distribution: OutOfDistribution | None = None

    def __post_init__(self) -> None:
        values = [*self.probabilities.values(), self.threshold, *(self.band or ())]
        if not all(isinstance(v, int | float | np.floating) and math.isfinite(v) for v in values):
            # A NaN would read as a verdict (NaN >= threshold is False: "NORMAL"); no verdict is made instead.
            raise ModelError(
                "The model gave no valid probability for this image (not a finite number), so no verdict is made. "
                "The image's pixel values may be out of range; try another export of it."
            )
        object.__setattr__(self, "probabilities", MappingProxyType(dict(self.probabilities)))

    @property
    def score(self) -> float:
        """The calibrated probability of PNEUMONIA, which the threshold is set on."""
        return float(self.probabilities["PNEUMONIA"])

    @property
    def borderline(self) -> bool:
        """Whether the score lies in the borderline band, where the verdict is to be reviewed rather than read."""
        return self.band is not None and self.band[0] < self.score < self.band[1]

    @property
    def unfamiliar(self) -> bool:
        """Whether the image is flagged as unlike the training images (its verdict is then unreliable)."""
        return self.out_of_distribution is not None and self.out_of_distribution.flag

    @property
    def reading(self) -> str:
        """How the verdict reads: :func:`reading`."""
        return reading(self.label, self.borderline, self.unfamiliar)

    def explanation(self) -> str:
        """The verdict in a sentence or two: the score against the threshold, and what the threshold is for (how
        unfamiliar the image is: :meth:`OutOfDistribution.explanation`)."""
        side = "≥" if self.score >= self.threshold else "<"
        if self.borderline:
            low, high = self.band  # type: ignore[misc]
            text = (
                f"Pneumonia score {self.score:.3f} lies in the borderline band {low:.3f}–{high:.3f} around the "
                f"threshold {self.threshold:.3f}, where the model was right on fewer than "
                f"{100 * BORDERLINE_ACCURACY:.0f} % of the images it was chosen on: "
                f"review the image (the score is {side} the threshold, so it leans {self.label})."
            )
        else:
            text = f"Pneumonia score {self.score:.3f} {side} threshold {self.threshold:.3f}: {self.label}."
        return f"{text} The threshold was {self.threshold_purpose}." if self.threshold_purpose else text


@dataclass(frozen=True)
class Volume:
    """A 3D image on a regular grid, in the patient's frame.

    Orientation (one convention for every volume, whatever the file stored): ``data[z, y, x]`` with ``x``
    increasing towards the patient's **left**, ``y`` towards **anterior**, ``z`` towards **superior** (NIfTI
    "LAS"). A frontal projection along ``y`` therefore shows the patient's right on the image's left, as a
    chest radiograph is read, once its rows are flipped so that superior is up.

    Attributes
    ----------
    data : ndarray, shape (Z, Y, X)
        Read-only. ``float32`` for intensities, ``bool`` for masks, integers for label maps.
    spacing_mm : tuple of float
        Voxel size ``(z, y, x)`` in millimetres.
    unit : str
        What the values are: ``"HU"``, ``"1/mm"`` (linear attenuation), ``"label"``, ``"mask"``.
    """

    data: np.ndarray
    spacing_mm: tuple[float, float, float]
    unit: str

    def __post_init__(self) -> None:
        data = np.asarray(self.data)
        if data.ndim != 3:
            raise TypeError(f"Volume.data must be a 3D (Z, Y, X) array, got shape {data.shape}.")
        spacing = tuple(float(s) for s in self.spacing_mm)
        if len(spacing) != 3 or not all(s > 0 for s in spacing):
            raise TypeError(f"Volume.spacing_mm must be three positive sizes, got {self.spacing_mm}.")
        object.__setattr__(self, "data", _frozen(data))
        object.__setattr__(self, "spacing_mm", spacing)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(Z, Y, X)`` in voxels."""
        return self.data.shape  # type: ignore[return-value]

    @property
    def extent_mm(self) -> tuple[float, float, float]:
        """Size ``(z, y, x)`` of the whole grid in millimetres."""
        return tuple(n * s for n, s in zip(self.shape, self.spacing_mm, strict=True))  # type: ignore[return-value]


@dataclass(frozen=True)
class Mesh:
    """A triangle surface in the patient's frame.

    Attributes
    ----------
    vertices : ndarray of float32, shape (N, 3)
        ``(x, y, z)`` positions in millimetres in the volume's LAS frame (x left, y anterior, z superior).
    faces : ndarray of int64, shape (M, 3)
        Vertex indices of each triangle, counter-clockwise seen from outside.
    values : ndarray of float32, shape (N,), optional
        A scalar per vertex in ``[0, 1]`` (intensity, a heat map) to colour the surface by.
    """

    vertices: np.ndarray
    faces: np.ndarray
    values: np.ndarray | None = None

    def __post_init__(self) -> None:
        vertices = np.asarray(self.vertices, dtype=np.float32)
        faces = np.asarray(self.faces, dtype=np.int64)
        if vertices.ndim != 2 or vertices.shape[1] != 3 or faces.ndim != 2 or faces.shape[1] != 3:
            raise TypeError(f"A mesh needs (N, 3) vertices and (M, 3) faces; got {vertices.shape}, {faces.shape}.")
        if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
            raise TypeError("Mesh faces refer to vertices that do not exist.")
        object.__setattr__(self, "vertices", _frozen(vertices))
        object.__setattr__(self, "faces", _frozen(faces))
        if self.values is not None:
            values = np.asarray(self.values, dtype=np.float32)
            if values.shape != (len(vertices),):
                raise TypeError(f"Mesh values need one per vertex ({len(vertices)}); got shape {values.shape}.")
            object.__setattr__(self, "values", _frozen(values))

    @property
    def n_triangles(self) -> int:
        """Number of triangles."""
        return len(self.faces)


def pseudonym(file_name: str, sha256: str) -> str:
    """The name a file is recorded and shown under unless the user keeps file names: ``image-`` and the first 12
    hex digits of its SHA-256, with its extension (``DOE_JANE_MRN123.dcm`` → ``image-3fa2b1c4d5e6.dcm``). The same
    file always gets the same pseudonym, so records of one film can still be found together."""
    suffix = PurePath(str(file_name)).suffix.lower()
    return f"image-{sha256[:12]}{suffix if suffix in ('.png', '.jpg', '.jpeg', '.dcm', '.dicom') else ''}"
