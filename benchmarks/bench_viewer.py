"""What the image viewer costs the server per image: packing a film for it, and the bytes sent to the browser.

Usage::

    python benchmarks/bench_viewer.py [--image FILE] [--repeats 20] [--json]

Times :func:`core.export.viewer.viewer_pane` (grey levels, deflate, base64; with a 224 px heat map and a lung
outline as the Diagnose page sends them) and :func:`core.export.viewer.viewer_args`, as median and 95th percentile
over ``--repeats`` runs, and prints the payload's size against the raw 16-bit pixels. FILE defaults to the largest
full-resolution X-ray in ../shared/data/chest_xray_fullres.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.export.viewer import viewer_args, viewer_pane  # noqa: E402
from core.io import read_xray_file  # noqa: E402

FULLRES = REPO_ROOT.parent / "shared" / "data" / "chest_xray_fullres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path = args.image or max(FULLRES.glob("*/*.jpeg"), key=lambda p: p.stat().st_size)
    xray = read_xray_file(path)
    heat = np.random.default_rng(0).random((224, 224), dtype=np.float32)
    lungs = np.zeros((224, 224), dtype=bool)
    lungs[40:180, 30:100] = lungs[40:180, 124:194] = True
    times = []
    for _ in range(args.repeats + 2):
        start = time.perf_counter()
        payload = viewer_args([viewer_pane(xray, title=path.name, heat=heat, lungs=lungs)])
        times.append(time.perf_counter() - start)
    times = sorted(times[2:])
    sent = len(json.dumps(payload))
    figures = {
        "image": path.name,
        "pixels": f"{xray.shape[1]}×{xray.shape[0]}",
        "median_ms": round(1000 * statistics.median(times), 1),
        "p95_ms": round(1000 * times[int(0.95 * (len(times) - 1))], 1),
        "payload_mb": round(sent / 1e6, 2),
        "raw_16bit_mb": round(xray.pixels.size * 2 / 1e6, 2),
        "ratio": round(sent / (xray.pixels.size * 2), 3),
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{figures['image']} ({figures['pixels']} px): packing {figures['median_ms']} ms median, "
          f"{figures['p95_ms']} ms p95; {figures['payload_mb']} MB to the browser "
          f"({figures['ratio']:.0%} of the raw 16-bit pixels, {figures['raw_16bit_mb']} MB)")  # fmt: skip


if __name__ == "__main__":
    main()
