"""``python -m core reconstruct-bench``: every reconstruction method against a real CT's own labels.

Views are simulated from the CT (parallel beam at :func:`~core.reconstruct.methods.view_angles`: evenly spread over
180°, frontal and lateral for two views), each method of :data:`~core.reconstruct.methods.METHODS` reconstructs from
them (the hulls and the single view from the lungs' true silhouettes and from lungs segmented in the views), and the
result is scored: Dice and IoU of the lungs against the CT's lung labels, PSNR and SSIM of the attenuation volume
where the method produces one. Seconds and peak memory (Python and NumPy allocations, tracemalloc) cover the
reconstruction only, not the simulation nor the segmentation.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import InputError
from core.io import read_volume
from core.reconstruct.hull import silhouettes
from core.reconstruct.methods import METHODS, Segmenter, segment_views, view_angles
from core.reconstruct.metrics import dice, iou, psnr, ssim
from core.reconstruct.prior import ShapePrior, prior_hull
from core.reconstruct.projection import Projections, parallel_beam
from core.reconstruct.segment import lungs_in_volume
from core.reconstruct.volume import attenuation, label_mask, resample_to
from core.types import Volume

__all__ = ["VIEW_COUNTS", "load_ct", "run_bench"]

VIEW_COUNTS = (2, 4, 8, 30, 90)


def _measure(run: Callable[[], Volume]) -> tuple[Volume, float, float]:
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = run()
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    return result, seconds, peak


def load_ct(ct: str | Path, lungs: str | Path | None = None) -> tuple[Volume, Volume]:
    """A CT (Hounsfield units) and its lung mask: a folder with ``cxr.nii.gz`` and ``mask.nii.gz`` (lungs are labels
    10-14), or a CT file and a label file on its grid (``lungs``; label > 0 is lung)."""
    ct = Path(ct)
    if ct.is_dir():
        missing = [name for name in ("cxr.nii.gz", "mask.nii.gz") if not (ct / name).is_file()]
        if missing:
            raise InputError(f"'{ct}' lacks {', '.join(missing)}: give the folder of the CT and its label map, or "
                             "a CT file with --lungs.")  # fmt: skip
        return read_volume(ct / "cxr.nii.gz"), label_mask(read_volume(ct / "mask.nii.gz", unit="label"))
    if lungs is None:
        raise InputError(f"'{ct.name}' is a CT file: give its lung labels too (--lungs LUNGS.nii.gz, label > 0).")
    labels = read_volume(lungs, unit="label")
    image = read_volume(ct)
    if labels.shape != image.shape:
        raise InputError(f"The lung labels ({labels.shape}) are not on the CT's grid ({image.shape}).")
    if not (labels.data > 0).any():
        raise InputError(f"'{Path(lungs).name}' labels no voxel: no lungs to score against.")
    return image, Volume(data=labels.data > 0, spacing_mm=labels.spacing_mm, unit="mask")


def run_bench(ct: str | Path, *, lungs: str | Path | None = None, side: int = 128,
              view_counts: tuple[int, ...] = VIEW_COUNTS, segment: Segmenter | None = None,
              shape_prior: ShapePrior | None = None,
              log: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:  # fmt: skip
    """Figures of every method and view count (see the module's docstring).

    Parameters
    ----------
    ct : str or Path
        A folder with ``cxr.nii.gz`` (HU) and ``mask.nii.gz`` (labels, lungs 10-14), or a CT file.
    lungs : str or Path, optional
        With a CT file: its lung labels on the same grid (label > 0 is lung).
    side : int
        Axial slices are resampled to ``side × side`` voxels.
    view_counts : tuple of int
    segment : Segmenter, optional
        A learned segmentation (the lung model): its rows ("... (learned)") beside the classical method's.
    shape_prior : ShapePrior, optional
        The lung-shape prior of the ``prior-hull`` rows (:data:`~core.reconstruct.prior.DEFAULT_SHAPE_PRIOR` when
        omitted; a prior fitted without this CT scores it fairly).
    log : callable
        Receives a line per result.

    Returns
    -------
    list of dict
        ``{"method", "views", "dice", "iou", "psnr", "ssim", "seconds", "peak_mb", "error"}``; ``None`` where a
        figure does not apply; a method that failed (no lung found in a view) has no figures and its ``error``
        sentence.
    """
    image, mask = load_ct(ct, lungs)
    mu = resample_to(attenuation(image), side=side)
    truth = resample_to(mask, side=side).data
    results: list[dict[str, Any]] = []

    def record(method: str, views: Projections | Callable[[], Projections], source: str | None = None, *,
               count: int | None = None) -> None:  # fmt: skip
        """One row: ``METHODS[method]`` on ``views`` (lung masks found by ``source``, or line integrals; a callable
        giving them, with their ``count``, when finding them may fail), scored."""
        chosen = METHODS[method]
        name = method if source is None else f"{method} ({source})"
        count = count or len(views.angles_deg)  # type: ignore[union-attr]
        try:
            views = views() if callable(views) else views
            if method == "prior-hull" and shape_prior is not None:
                build = lambda: prior_hull(views, shape=mu.shape, spacing_mm=mu.spacing_mm, prior=shape_prior)  # noqa: E731
            else:
                build = lambda: chosen.build(views, mu.shape, mu.spacing_mm)  # noqa: E731
            volume, seconds, peak = _measure(build)
        except InputError as error:  # e.g. a view where no lung was found: the method failed, the bench goes on
            row = {"method": name, "views": count, "dice": None, "iou": None,
                   "psnr": None, "ssim": None, "seconds": None, "peak_mb": None, "error": str(error)}  # fmt: skip
            results.append(row)
            log(f"method={name} views={row['views']} failed: {error}")
            return
        mask = volume.data if chosen.masks else lungs_in_volume(volume).data
        row = {
            "method": name,
            "views": count,
            "dice": round(dice(mask, truth), 4),
            "iou": round(iou(mask, truth), 4),
            "psnr": None if chosen.masks else round(psnr(mu.data, volume.data), 2),
            "ssim": None if chosen.masks else round(ssim(mu.data, volume.data), 4),
            "seconds": round(seconds, 3),
            "peak_mb": round(peak, 1),
            "error": None,
        }
        results.append(row)
        log(" ".join(f"{key}={value}" for key, value in row.items()))

    lung_mask = Volume(data=truth, spacing_mm=mu.spacing_mm, unit="mask")
    segmenters = {"segmented": None} | ({"learned": segment} if segment is not None else {})
    frontal = parallel_beam(mu, view_angles(1))
    record("single-view", silhouettes(lung_mask, frontal.angles_deg), "true silhouette")
    for name, segmenter in segmenters.items():
        record("single-view", lambda s=segmenter: segment_views(frontal, s), name, count=1)
    for count in view_counts:
        angles = view_angles(count)
        views = parallel_beam(mu, angles)
        true_silhouettes = silhouettes(lung_mask, angles)
        record("fbp", views)
        record("sart", views)
        record("visual-hull", true_silhouettes, "true silhouettes")
        if count == 2:
            record("elliptic-hull", true_silhouettes, "true silhouettes")
            record("prior-hull", true_silhouettes, "true silhouettes")
            for name, segmenter in segmenters.items():
                found = {}  # the views' masks, found once for the three hulls

                def segmented(v=views, s=segmenter, found=found) -> Projections:
                    if "views" not in found:
                        found["views"] = segment_views(v, s)
                    return found["views"]

                record("visual-hull", segmented, name, count=2)
                record("elliptic-hull", segmented, name, count=2)
                record("prior-hull", segmented, name, count=2)
    return results
