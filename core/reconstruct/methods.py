"""The reconstruction methods in one table, and the rules that every user of them shares: the Reconstruct page's
modes (:mod:`core.reconstruct.modes`) and ``reconstruct-bench`` (:mod:`core.reconstruct.bench`).

- which angles ``n`` views are taken at (:func:`view_angles`), and how many SART sweeps they get
  (:func:`sart_iterations`);
- each method's name, label, number of views and the function from views to a volume (:data:`METHODS`);
- how lungs are found in a simulated view for the methods that carve or inflate lung masks (:data:`Segmenter`,
  :func:`classical_lungs`, :func:`segment_views`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.reconstruct.hull import elliptic_hull, visual_hull
from core.reconstruct.prior import prior_hull
from core.reconstruct.projection import Projections
from core.reconstruct.segment import lungs_in_radiograph
from core.reconstruct.single_view import inflate_frontal_mask
from core.reconstruct.tomography import fbp, sart
from core.types import Progress, Volume

__all__ = [
    "CROSS_SECTIONS",
    "METHODS",
    "Method",
    "Segmenter",
    "classical_lungs",
    "sart_iterations",
    "segment_views",
    "view_angles",
]


def view_angles(count: int) -> np.ndarray:
    """Frontal first: one view is frontal, two are frontal + lateral, more are spread evenly over 180°."""
    return np.array([0.0, 90.0]) if count == 2 else np.linspace(0.0, 180.0, count, endpoint=False)


def sart_iterations(views: int) -> int:
    """SART sweeps for ``views`` views: two below 30 views, one from 30 on."""
    return 2 if views < 30 else 1


#: Builds a volume from views on a grid: ``build(views, shape, spacing_mm, progress) -> Volume``; ``progress``
#: (optional) is told how far a slow method has come.
Build = Callable[[Projections, tuple[int, int, int], tuple[float, float, float], Progress | None], Volume]


@dataclass(frozen=True)
class Method:
    """One way from X-ray views to a volume.

    Attributes
    ----------
    name : str
        Its key in :data:`METHODS` (and the bench's name for it).
    label : str
        What users read.
    min_views : int
        The fewest views it works from.
    max_views : int or None
        The most (``None``: no limit).
    masks : bool
        True: it takes lung masks (silhouettes, ``1.0`` inside) and gives a lung mask; False: it takes line integrals
        and gives attenuation (1/mm), where the lungs are still to be found.
    build : Build
        The method itself.
    """

    name: str
    label: str
    min_views: int
    max_views: int | None
    masks: bool
    build: Build

    def takes(self, views: int) -> bool:
        """Whether it works from ``views`` views."""
        return views >= self.min_views and (self.max_views is None or views <= self.max_views)


def _single_view(views: Projections, shape: tuple[int, int, int], spacing_mm: tuple[float, float, float],
                 progress: Progress | None = None) -> Volume:  # fmt: skip
    return inflate_frontal_mask(views.images[0] > 0.5, pixel_mm=views.pixel_mm, shape=shape, spacing_mm=spacing_mm)


# Tomography's grid follows the views (one slice per detector row, one voxel per detector column): it ignores the one
# it is given.
METHODS: dict[str, Method] = {method.name: method for method in (
    Method(name="fbp", label="FBP", min_views=2, max_views=None, masks=False,
           build=lambda views, shape, spacing_mm, progress=None: fbp(views, progress=progress)),
    Method(name="sart", label="SART (iterative)", min_views=2, max_views=None, masks=False,
           build=lambda views, shape, spacing_mm, progress=None: sart(
               views, iterations=sart_iterations(len(views.angles_deg)), progress=progress)),
    Method(name="visual-hull", label="Visual hull", min_views=2, max_views=None, masks=True,
           build=lambda views, shape, spacing_mm, _=None: visual_hull(views, shape=shape, spacing_mm=spacing_mm)),
    Method(name="elliptic-hull", label="Elliptic hull", min_views=2, max_views=None, masks=True,
           build=lambda views, shape, spacing_mm, _=None: elliptic_hull(views, shape=shape, spacing_mm=spacing_mm)),
    Method(name="prior-hull", label="Hull with the lung-shape prior", min_views=2, max_views=None, masks=True,
           build=lambda views, shape, spacing_mm, _=None: prior_hull(views, shape=shape, spacing_mm=spacing_mm)),
    Method(name="single-view", label="Single frontal view (approximation)", min_views=1, max_views=1, masks=True,
           build=_single_view),
)}  # fmt: skip


#: How a hull's cross-sections are shaped: the method each choice runs, and what users read.
CROSS_SECTIONS = {
    "carved": ("visual-hull", "As carved (rectangles from two views)"),
    "ellipse": ("elliptic-hull", "Ellipses inscribed"),
    "prior": ("prior-hull", "Lung-shape prior (learned from CTs)"),
}


#: Finds the lungs in one radiograph: ``segment(image, angle_deg) -> mask`` (bool, the image's shape; the image
#: bright = dense, superior up). The learned one is :meth:`core.lungs.segment.LungSegmenter.find`; without one,
#: :func:`classical_lungs`.
Segmenter = Callable[[np.ndarray, float], np.ndarray]


def classical_lungs(image: np.ndarray, angle_deg: float) -> np.ndarray:
    """The classical method (:func:`~core.reconstruct.segment.lungs_in_radiograph`): two regions in a frontal view,
    one in a lateral view (the lungs overlap)."""
    return lungs_in_radiograph(image, lungs=2 if abs(np.sin(np.deg2rad(angle_deg))) < 0.5 else 1)


def segment_views(views: Projections, segment: Segmenter | None = None) -> Projections:
    """Simulated views replaced by their lung masks (as the radiographs are shown: superior up, then back)."""
    segment = segment or classical_lungs
    masks = [segment(radiograph_view[::-1], float(angle))[::-1]
             for radiograph_view, angle in zip(views.images, views.angles_deg, strict=True)]  # fmt: skip
    return Projections(images=np.stack(masks).astype(np.float32), angles_deg=views.angles_deg, pixel_mm=views.pixel_mm)
