"""How well lungs are found in radiographs: the lung U-Net beside the classical method, on real films and on
simulated views of the CT that never trained.

Usage::

    python benchmarks/bench_lungs.py [--model PATH] [--part test|validation] [--shared ../shared/data] [--json]

- **Real films** (``cxr_lung_masks``, the ``evaluation-only`` rows of ``--part``; see :mod:`core.lungs.data` for the
  split rule): Dice, IoU and the 95th-percentile Hausdorff distance (pixels of the stored image, longest side at
  most 1024 px) of each image's mask at its own size, medians per view (PA, AP, AP Supine) and over all.
- **Held-out CT** (:data:`core.lungs.data.HELD_OUT_CT`): simulated frontal (-10°, 0°, 10°) and lateral (80°, 90°,
  100°, 270°) radiographs against their lungs' exact silhouettes.
- **Speed**: milliseconds per real film (decode excluded) on ``--threads`` threads: median and 95th percentile.

The classical method is :func:`core.reconstruct.segment.lungs_in_radiograph` (two regions in a frontal view, one
in a lateral view).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.io import read_xray_file  # noqa: E402
from core.lungs.data import HELD_OUT_CT, real_pairs, simulated_pairs  # noqa: E402
from core.lungs.model import DEFAULT_LUNG_MODEL  # noqa: E402
from core.lungs.segment import LungSegmenter  # noqa: E402
from core.reconstruct.metrics import dice, hausdorff95, iou  # noqa: E402
from core.reconstruct.segment import lungs_in_radiograph  # noqa: E402

SHARED = REPO_ROOT.parent / "shared" / "data"
VIEWS = ("PA", "AP", "AP Supine")


def _scores(found: np.ndarray, truth: np.ndarray) -> dict[str, float | None]:
    return {"dice": dice(found, truth), "iou": iou(found, truth), "hd95": hausdorff95(found, truth)}


def _medians(rows: list[dict]) -> dict[str, float | None]:
    out: dict[str, float | None] = {"n": len(rows)}
    for key in ("dice", "iou", "hd95"):
        values = [r[key] for r in rows if r[key] is not None]
        out[key] = round(float(np.median(values)), 4) if values else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_LUNG_MODEL)
    parser.add_argument("--part", choices=("test", "validation"), default="test")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    segmenter = LungSegmenter(args.model)

    scored: dict[str, dict[str, list]] = {"U-Net": defaultdict(list), "classical": defaultdict(list)}
    times = []
    for pair in real_pairs(args.shared / "cxr_lung_masks"):
        if pair.part != args.part:
            continue
        pixels = read_xray_file(pair.image).pixels
        truth = cv2.imread(str(pair.mask), cv2.IMREAD_GRAYSCALE) > 127
        tick = time.perf_counter()
        found = segmenter.segment(pixels).lungs
        times.append(1000 * (time.perf_counter() - tick))
        view = pair.view if pair.view in VIEWS else "other"
        for method, mask in (("U-Net", found), ("classical", lungs_in_radiograph(pixels))):
            scores = _scores(mask, truth)
            scored[method][view].append(scores)
            scored[method]["all"].append(scores)

    views = {"frontal": (-10.0, 0.0, 10.0), "lateral": (80.0, 90.0, 100.0, 270.0)}
    for name, angles in views.items():
        images, masks = simulated_pairs(args.shared, HELD_OUT_CT, angles, size=512)
        for image, mask in zip(images, masks, strict=True):
            truth = mask >= 0.5
            found = segmenter.segment(image).lungs
            classical = lungs_in_radiograph(image, lungs=2 if name == "frontal" else 1)
            scored["U-Net"][f"CT {name}"].append(_scores(found, truth))
            scored["classical"][f"CT {name}"].append(_scores(classical, truth))

    results = {method: {group: _medians(rows) for group, rows in groups.items()} for method, groups in scored.items()}
    speed = {"median_ms": round(float(np.median(times)), 1), "p95_ms": round(float(np.percentile(times, 95)), 1),
             "threads": args.threads, "n": len(times)}  # fmt: skip
    if args.json:
        print(json.dumps({"model": str(args.model), "part": args.part, "results": results, "speed": speed}))
        return
    print(f"{args.model.name} on the {args.part} films of cxr_lung_masks and the held-out CT ({HELD_OUT_CT}); "
          "medians (HD95 in pixels of the stored image)")  # fmt: skip

    def cells(figures: dict) -> str:
        return "".join(f"{'–' if figures[k] is None else format(figures[k], '.1f' if k == 'hd95' else '.3f'):>8}"
                       for k in ("dice", "iou", "hd95"))  # fmt: skip

    print(f"{'group':<14}{'n':>5}   {'U-Net: Dice':>11}{'IoU':>8}{'HD95':>8}   {'classical: Dice':>15}{'IoU':>8}"
          f"{'HD95':>8}")  # fmt: skip
    for group in [*VIEWS, "other", "all", "CT frontal", "CT lateral"]:
        if group in results["U-Net"]:
            print(f"{group:<14}{results['U-Net'][group]['n']:>5}   {cells(results['U-Net'][group]):>27}   "
                  f"{cells(results['classical'][group]):>31}")  # fmt: skip
    print(f"speed: median {speed['median_ms']} ms, p95 {speed['p95_ms']} ms per film ({args.threads} threads)")


if __name__ == "__main__":
    main()
