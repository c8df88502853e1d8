"""``python -m core reconstruct-bench``: every reconstruction method against a real CT's own labels.

Views are simulated from the CT (parallel beam, evenly spread over 180°; frontal and lateral for two views), each
method reconstructs from them, and the result is scored: Dice and IoU of the lungs against the CT's lung labels,
PSNR and SSIM of the attenuation volume where the method produces one. Seconds and peak memory (Python and NumPy
allocations, tracemalloc) cover the reconstruction only, not the simulation.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InputError
from core.io import read_volume
from core.reconstruct.hull import elliptic_hull, silhouettes, visual_hull
from core.reconstruct.metrics import dice, iou, psnr, ssim
from core.reconstruct.projection import Projections, parallel_beam
from core.reconstruct.segment import lungs_in_radiograph, lungs_in_volume
from core.reconstruct.single_view import inflate_frontal_mask
from core.reconstruct.tomography import fbp, sart
from core.reconstruct.volume import attenuation, label_mask, resample_to
from core.types import Volume

__all__ = ["VIEW_COUNTS", "run_bench"]

VIEW_COUNTS = (2, 4, 8, 30, 90)


def view_angles(count: int) -> np.ndarray:
    """Frontal and lateral for two views; otherwise evenly over 180° starting frontal."""
    return np.array([0.0, 90.0]) if count == 2 else np.linspace(0.0, 180.0, count, endpoint=False)


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


def _segmented_views(views: Projections) -> Projections:
    """Lungs segmented in each simulated radiograph: two regions in frontal views, one where they overlap."""
    masks = [
        lungs_in_radiograph(image, lungs=2 if abs(np.sin(np.deg2rad(angle))) < 0.5 else 1)
        for image, angle in zip(views.images, views.angles_deg, strict=True)
    ]
    return Projections(images=np.stack(masks).astype(np.float32), angles_deg=views.angles_deg,
                       pixel_mm=views.pixel_mm)  # fmt: skip


def run_bench(ct_dir: str | Path, *, side: int = 128, view_counts: tuple[int, ...] = VIEW_COUNTS,
              log: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:  # fmt: skip
    """Figures of every method and view count (see the module's docstring).

    Parameters
    ----------
    ct_dir : str or Path
        A folder with ``cxr.nii.gz`` (HU) and ``mask.nii.gz`` (labels, lungs 10-14).
    side : int
        Axial slices are resampled to ``side × side`` voxels.
    view_counts : tuple of int
    log : callable
        Receives a line per result.

    Returns
    -------
    list of dict
        ``{"method", "views", "dice", "iou", "psnr", "ssim", "seconds", "peak_mb"}``; ``None`` where a figure
        does not apply.
    """
    ct_dir = Path(ct_dir)
    missing = [name for name in ("cxr.nii.gz", "mask.nii.gz") if not (ct_dir / name).is_file()]
    if missing:
        raise InputError(f"'{ct_dir}' lacks {', '.join(missing)}: give the folder of the CT and its label map.")
    mu = resample_to(attenuation(read_volume(ct_dir / "cxr.nii.gz")), side=side)
    lungs = resample_to(label_mask(read_volume(ct_dir / "mask.nii.gz", unit="label")), side=side).data
    grid = {"shape": mu.shape, "spacing_mm": mu.spacing_mm}
    results: list[dict[str, Any]] = []

    def record(method: str, views: int, run: Callable[[], Volume]) -> None:
        volume, seconds, peak = _measure(run)
        mask = volume.data if volume.unit == "mask" else lungs_in_volume(volume).data
        row = {
            "method": method,
            "views": views,
            "dice": round(dice(mask, lungs), 4),
            "iou": round(iou(mask, lungs), 4),
            "psnr": None if volume.unit == "mask" else round(psnr(mu.data, volume.data), 2),
            "ssim": None if volume.unit == "mask" else round(ssim(mu.data, volume.data), 4),
            "seconds": round(seconds, 3),
            "peak_mb": round(peak, 1),
        }
        results.append(row)
        log(" ".join(f"{key}={value}" for key, value in row.items()))

    frontal = parallel_beam(mu, [0.0])
    lung_mask = Volume(data=lungs, spacing_mm=mu.spacing_mm, unit="mask")
    true_frontal = silhouettes(lung_mask, [0.0]).images[0] > 0.5
    record("single-view (true silhouette)", 1, lambda: inflate_frontal_mask(
        true_frontal, pixel_mm=frontal.pixel_mm, shape=mu.shape, spacing_mm=mu.spacing_mm))  # fmt: skip
    record("single-view (segmented)", 1, lambda: inflate_frontal_mask(
        lungs_in_radiograph(frontal.images[0]), pixel_mm=frontal.pixel_mm, shape=mu.shape,
        spacing_mm=mu.spacing_mm))  # fmt: skip
    for count in view_counts:
        angles = view_angles(count)
        views = parallel_beam(mu, angles)
        true_silhouettes = silhouettes(lung_mask, angles)
        record("fbp", count, lambda v=views: fbp(v))
        record("sart", count, lambda v=views, n=1 if count >= 30 else 2: sart(v, iterations=n))
        record("visual-hull (true silhouettes)", count, lambda s=true_silhouettes: visual_hull(s, **grid))
        if count == 2:
            segmented = _segmented_views(views)
            record("visual-hull (segmented)", count, lambda s=segmented: visual_hull(s, **grid))
            record("elliptic-hull (true silhouettes)", count, lambda s=true_silhouettes: elliptic_hull(s, **grid))
            record("elliptic-hull (segmented)", count, lambda s=segmented: elliptic_hull(s, **grid))
    return results
