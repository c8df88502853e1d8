"""Latency of the preprocessing path on full-size X-rays: decode → median 3×3 → CLAHE → resize to 224×224.

Usage::

    python benchmarks/bench_preprocess.py [--dir DIR] [--repeats N] [--json]

DIR defaults to ../shared/data/chest_xray_fullres (24 originals, 711×537 to 2396×1990 px), or to the shipped samples
where that is absent. Each file is processed ``--repeats`` times after one warm-up; the figures are per file and per
stage, in milliseconds: median and 95th percentile over all runs, plus throughput and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core import preprocess  # noqa: E402
from core.io import read_xray  # noqa: E402
from core.samples import SAMPLES_DIR  # noqa: E402

DEFAULT_DIR = REPO_ROOT.parent / "shared" / "data" / "chest_xray_fullres"
STAGES = ("decode", "median3", "clahe", "resize224", "total")


def run_once(data: bytes, name: str) -> dict[str, float]:
    timings = {}
    start = time.perf_counter()
    pixels = read_xray(data, name=name).pixels
    timings["decode"] = time.perf_counter() - start
    mark = time.perf_counter()
    pixels = preprocess.median_filter(pixels, kernel_size=3)
    timings["median3"] = time.perf_counter() - mark
    mark = time.perf_counter()
    pixels = preprocess.apply_clahe(pixels, clip_limit=2.0, tile_grid=8)
    timings["clahe"] = time.perf_counter() - mark
    mark = time.perf_counter()
    preprocess.resize(pixels, size=(224, 224), keep_aspect=True)
    timings["resize224"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - start
    return {stage: seconds * 1000 for stage, seconds in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR if DEFAULT_DIR.is_dir() else SAMPLES_DIR)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()

    files = sorted(p for p in args.dir.rglob("*") if p.suffix.lower() in (".jpeg", ".jpg", ".png", ".dcm"))
    if not files:
        sys.exit(f"No images under {args.dir}.")
    loaded = [(p.name, p.read_bytes()) for p in files]
    megapixels = []
    runs: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for name, data in loaded:
        run_once(data, name)  # warm-up: first-call costs (allocations, OpenCV dispatch) are not latency
        for _ in range(args.repeats):
            for stage, ms in run_once(data, name).items():
                runs[stage].append(ms)
        megapixels.append(read_xray(data, name=name).pixels.size / 1e6)

    summary = {
        "images": len(loaded),
        "repeats": args.repeats,
        "megapixels_median": statistics.median(megapixels),
        "megapixels_max": max(megapixels),
        "cpu_count": os.cpu_count(),
        "opencv_threads": cv2.getNumThreads(),
        "stages_ms": {
            stage: {"median": float(np.median(v)), "p95": float(np.percentile(v, 95)), "max": float(np.max(v))}
            for stage, v in runs.items()
        },
        "throughput_images_per_s": 1000 / float(np.median(runs["total"])),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{summary['images']} images from {args.dir} ({summary['megapixels_median']:.2f} MP median, "
          f"{summary['megapixels_max']:.2f} MP max), {args.repeats} runs each after a warm-up; "
          f"{summary['cpu_count']} CPUs, OpenCV threads {summary['opencv_threads']}")  # fmt: skip
    print(f"{'stage':<10} {'median ms':>10} {'p95 ms':>10} {'max ms':>10}")
    for stage, figures in summary["stages_ms"].items():
        print(f"{stage:<10} {figures['median']:>10.1f} {figures['p95']:>10.1f} {figures['max']:>10.1f}")
    print(f"throughput {summary['throughput_images_per_s']:.1f} images/s · peak RSS {summary['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
