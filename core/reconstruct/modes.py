"""The three ways to 3D the Reconstruct page offers, from simulated views of the demo CT or from uploaded X-rays:

- ``"tomography"``: many views → attenuation volume (FBP or SART) → lungs found in it;
- ``"visual-hull"``: two or more views → lungs segmented in each → carved hull (its cross-sections optionally
  shaped: ellipses or the lung-shape prior);
- ``"single-view"``: one frontal view → lungs segmented → inflated: an approximation, not a reconstruction.

Each gives a :class:`Reconstruction` with a lung surface ready to show and download. The methods behind the modes,
the views' angles and the segmentation of simulated views live in :mod:`core.reconstruct.methods`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.io import read_volume
from core.reconstruct.hull import silhouettes
from core.reconstruct.methods import (
    CROSS_SECTIONS,
    METHODS,
    Method,
    Segmenter,
    classical_lungs,
    segment_views,
    view_angles,
)
from core.reconstruct.metrics import dice, iou
from core.reconstruct.projection import Projections, parallel_beam
from core.reconstruct.segment import lungs_in_volume
from core.reconstruct.surface import decimate, frontal_values, smooth, surface
from core.reconstruct.volume import attenuation
from core.types import Mesh, Progress, Volume

__all__ = [
    "DEMO_CT_DIR",
    "MODES",
    "Reconstruction",
    "load_demo_ct",
    "paint_frontal",
    "reconstruct_demo",
    "reconstruct_radiographs",
]

DEMO_CT_DIR = Path(__file__).resolve().parents[1] / "data" / "ct"
MODES = {
    "tomography": "Tomography (many views)",
    "visual-hull": "Visual hull (two or more views)",
    "single-view": "Single frontal view (approximation)",
}


@dataclass(frozen=True)
class Reconstruction:
    """A 3D result and how it was made.

    Attributes
    ----------
    mode : str
        A key of :data:`MODES`.
    views : Projections
        The views it was made from (line integrals, or lung masks for hulls from uploads).
    lungs : Volume
        The lung mask.
    mesh : Mesh
        The lungs' smoothed, decimated surface.
    volume : Volume or None
        The reconstructed attenuation (tomography only).
    figures : dict
        ``dice`` and ``iou`` against the truth where it is known (the demo CT), ``seconds`` always.
    approximate : bool
        True for the single-view mode: depth is assumed, not measured.
    """

    mode: str
    views: Projections
    lungs: Volume
    mesh: Mesh
    volume: Volume | None = None
    figures: dict[str, float] = field(default_factory=dict)
    approximate: bool = False


def load_demo_ct() -> tuple[Volume, Volume]:
    """The shipped demo CT as attenuation (1/mm) and its lung mask (``core/data/ct``)."""
    return attenuation(read_volume(DEMO_CT_DIR / "chest_ct.nii.gz")), Volume(
        data=read_volume(DEMO_CT_DIR / "lungs.nii.gz", unit="label").data > 0,
        spacing_mm=read_volume(DEMO_CT_DIR / "lungs.nii.gz", unit="label").spacing_mm, unit="mask")  # fmt: skip


def _mesh(lungs: Volume, max_triangles: int) -> Mesh:
    return decimate(smooth(surface(lungs)), max_triangles=max_triangles)


def _method(mode: str, tomography: str = "fbp", cross_section: str = "carved") -> Method:
    """The method a mode runs (``tomography``: FBP or SART; ``cross_section``: a key of
    :data:`~core.reconstruct.methods.CROSS_SECTIONS`, how the hull's cross-sections are shaped)."""
    if mode == "tomography":
        if tomography not in ("fbp", "sart"):
            raise InputError(f"Unknown tomography method '{tomography}'; choose fbp or sart.")
        return METHODS[tomography]
    if mode == "single-view":
        return METHODS["single-view"]
    if cross_section not in CROSS_SECTIONS:
        raise InputError(f"Unknown cross-section '{cross_section}'; choose one of {', '.join(CROSS_SECTIONS)}.")
    return METHODS[CROSS_SECTIONS[cross_section][0]]


def reconstruct_demo(
    mu: Volume,
    truth: Volume,
    *,
    mode: str,
    views: int,
    method: str = "fbp",
    exact_silhouettes: bool = False,
    cross_section: str = "carved",
    max_triangles: int = 60_000,
    segment: Segmenter | None = None,
    progress: Progress | None = None,
) -> Reconstruction:
    """Simulate ``views`` parallel-beam views of the demo CT, reconstruct, and score against its lung mask.

    Parameters
    ----------
    mu, truth : Volume
        Attenuation and lung mask (:func:`load_demo_ct`).
    mode : str
        A key of :data:`MODES`.
    views : int
        How many views (1 for the single view; frontal + lateral for 2).
    method : str
        ``"fbp"`` or ``"sart"`` for tomography.
    exact_silhouettes : bool
        Hull and single view: use the lungs' exact silhouettes (projected from the labels, the method's upper
        bound) instead of segmenting the simulated radiographs.
    cross_section : str
        Hull: how its cross-sections are shaped, a key of :data:`~core.reconstruct.methods.CROSS_SECTIONS`
        (``"carved"``, ``"ellipse"``, ``"prior"``).
    max_triangles : int
        Surface budget.
    segment : Segmenter, optional
        How lungs are found in the simulated views (the classical method when omitted).
    progress : Progress, optional
        Told how far a slow method (SART) has come.
    """
    if mode not in MODES:
        raise InputError(f"Unknown mode '{mode}'; choose one of {', '.join(MODES)}.")
    chosen = _method(mode, method, cross_section)
    if not chosen.takes(views):
        needed = "exactly one view" if chosen.max_views == 1 else f"at least {chosen.min_views} views"
        raise InputError(f"{MODES[mode]} needs {needed}; got {views}.")
    angles = view_angles(views)
    simulated = parallel_beam(mu, angles)
    start = time.perf_counter()
    volume = None
    if chosen.masks:
        masks = silhouettes(truth, angles) if exact_silhouettes else segment_views(simulated, segment)
        lungs = chosen.build(masks, mu.shape, mu.spacing_mm)
    else:
        volume = chosen.build(simulated, mu.shape, mu.spacing_mm, progress)
        lungs = lungs_in_volume(volume)
    seconds = time.perf_counter() - start
    if not lungs.data.any():
        raise InputError("No lungs were found in this reconstruction: try more views or exact silhouettes.")
    mesh = _mesh(lungs, max_triangles)
    figures = {"dice": dice(lungs.data, truth.data), "iou": iou(lungs.data, truth.data), "seconds": seconds}
    return Reconstruction(mode=mode, views=simulated, lungs=lungs, mesh=mesh, volume=volume, figures=figures,
                          approximate=mode == "single-view")  # fmt: skip


def reconstruct_radiographs(
    images: list[np.ndarray],
    angles_deg: list[float],
    *,
    mode: str,
    field_of_view_mm: float = 350.0,
    side: int = 128,
    cross_section: str = "carved",
    max_triangles: int = 60_000,
    segment: Segmenter | None = None,
) -> Reconstruction:
    """Lungs in 3D from real X-rays: a hull from two or more calibrated views, or the single-view approximation.

    Parameters
    ----------
    images : list of ndarray, shape (H, W)
        Radiographs (bright = dense, superior up), all the same size, views about the patient's long axis.
    angles_deg : list of float
        One per image: 0 frontal, 90 lateral.
    mode : str
        ``"visual-hull"`` or ``"single-view"`` (tomography needs calibrated projection data, not radiograph files).
    field_of_view_mm : float
        Width each image covers at the patient; sets the scale of the result.
    side : int
        Columns each view is resampled to (rows follow the aspect ratio).
    cross_section : str
        Hull: as in :func:`reconstruct_demo`.
    segment : Segmenter, optional
        How lungs are found in each view, at its own size (the lung model, from the pages); the classical method on
        the resampled view when omitted.
    """
    from core.preprocess import resize

    if mode not in ("visual-hull", "single-view"):
        raise InputError(
            "From uploaded radiographs only the visual hull and the single-view approximation are possible: "
            "tomography needs calibrated projection data at many known angles (try the demo CT)."
        )
    if len(images) != len(angles_deg):
        raise InputError(f"Give one angle per view: {len(images)} views, {len(angles_deg)} angles.")
    chosen = _method(mode, cross_section=cross_section)
    if not chosen.takes(len(images)):
        raise InputError(f"{MODES[mode]} needs {'one' if mode == 'single-view' else 'at least two'} view(s); got "
                         f"{len(images)}.")  # fmt: skip
    shapes = {np.asarray(image).shape for image in images}
    if len(shapes) > 1:
        raise InputError(f"The views have different sizes ({', '.join(f'{w}×{h}' for h, w in sorted(shapes))}): "
                         "export them at the same size and field of view.")  # fmt: skip
    if not 50.0 <= field_of_view_mm <= 1000.0:
        raise InputError(f"The field of view should be a chest's width, 50-1000 mm; got {field_of_view_mm}.")
    height, width = next(iter(shapes))
    rows = max(16, round(side * height / width))
    pixel = field_of_view_mm / side
    start = time.perf_counter()
    masks = []
    for image, angle in zip(images, angles_deg, strict=True):
        image = np.asarray(image, dtype=np.float32)
        if segment is None:
            masks.append(classical_lungs(resize(image, size=(rows, side), keep_aspect=False), angle)[::-1])
        else:
            found = segment(image, float(angle)).astype(np.float32)
            masks.append(resize(found, size=(rows, side), keep_aspect=False)[::-1] >= 0.5)
    for mask, angle in zip(masks, angles_deg, strict=True):
        if not mask.any():
            raise InputError(f"No lung field was found in the view at {angle:g}°: check that it is a chest X-ray.")
    views = Projections(images=np.stack(masks).astype(np.float32), angles_deg=angles_deg, pixel_mm=(pixel, pixel))
    shape, spacing = (rows, side, side), (pixel, pixel, pixel)
    lungs = chosen.build(views, shape, spacing)
    seconds = time.perf_counter() - start
    if not lungs.data.any():
        raise InputError("The views' lung fields do not overlap in 3D: check the angles and that the views match.")
    return Reconstruction(mode=mode, views=views, lungs=lungs, mesh=_mesh(lungs, max_triangles),
                          figures={"seconds": seconds}, approximate=mode == "single-view")  # fmt: skip


def paint_frontal(result: Reconstruction, image: np.ndarray) -> Mesh:
    """The lung surface coloured by an image of the frontal view it was built from (e.g. its Grad-CAM heat map).

    Parameters
    ----------
    result : Reconstruction
        From :func:`reconstruct_radiographs` (its grid follows the views' rows and columns).
    image : ndarray, shape (H, W)
        Values in ``[0, 1]`` over the whole frontal radiograph, superior up, at any resolution (a heat map on the
        classifier's square input is stretched back, as the input was stretched).
    """
    from core.preprocess import resize

    slices, _, side = result.lungs.shape
    on_grid = resize(np.asarray(image, dtype=np.float32), size=(slices, side), keep_aspect=False)[::-1]
    return frontal_values(result.mesh, on_grid, spacing_mm=result.lungs.spacing_mm)
