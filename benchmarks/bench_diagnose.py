"""Latency of one diagnosis and throughput of batch verdicts, with the shipped default model, on this machine.

Usage::

    python benchmarks/bench_diagnose.py [--image FILE] [--model PATH] [--method Grad-CAM] [--repeats 30]
                                        [--threads 2] [--json]

- Warm latency of one full-size JPEG from its bytes to a verdict with its heat map (``total``: what the Diagnose
  page and ``predict --cam`` run per image, the verdict taken from the map's own forward pass), and by stage, as
  median and 95th percentile over ``--repeats`` runs after three warm-up runs; the faithfulness figure (five ROAD
  imputations and one batched forward pass) is timed on its own, since the page can switch it off.
- Batch throughput without heat maps: images per second for the 24 full-size X-rays of ``chest_xray_fullres``
  (decode, prepare, predict in batches of 32), the median of three passes.
- Peak resident memory of the process.

The model and the CAM objects are built once, before timing, as the app does. FILE defaults to the largest
full-resolution X-ray in ../shared/data/chest_xray_fullres.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.classify.checkpoint import DEFAULT_MODEL_PATH  # noqa: E402
from core.diagnose import Diagnoser  # noqa: E402
from core.io import read_xray  # noqa: E402

FULLRES = REPO_ROOT.parent / "shared" / "data" / "chest_xray_fullres"


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {"median_ms": round(float(np.median(ms)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1)}


def latency(diagnoser: Diagnoser, data: bytes, name: str, *, method: str, repeats: int) -> dict[str, dict]:
    """Per stage: decode, prepare, the verdict alone, the verdict with its heat map (one forward pass: the map's),
    the lungs (mask at the image's size), the whole diagnosis as the app runs it (bytes to verdict, map and lungs),
    and the faithfulness figure on its own."""
    classifier, explainer = diagnoser.classifier, diagnoser.explainer
    stages: dict[str, list[float]] = {"decode": [], "prepare": [], "verdict_only": [], "verdict_and_map": [],
                                      "lungs": [], "total": [], "faithfulness": []}  # fmt: skip
    for run in range(repeats + 3):
        t0 = time.perf_counter()
        xray = read_xray(data, name=name)
        t1 = time.perf_counter()
        inputs = classifier.batch([xray])
        t2 = time.perf_counter()
        classifier.verdict(float(classifier.probabilities(inputs)[0]))
        t3 = time.perf_counter()
        cam = explainer.explain(inputs, method=method, faithfulness=False)
        t4 = time.perf_counter()
        if diagnoser.segmenter is not None:
            diagnoser.segmenter.segment(xray.pixels)
        t5 = time.perf_counter()
        diagnoser.diagnose(read_xray(data, name=name), method=method, faithfulness=False)
        t6 = time.perf_counter()
        explainer.faithfulness(inputs, cam.heat, target=cam.target)
        t7 = time.perf_counter()
        if run >= 3:
            timings = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6)
            for key, seconds in zip(stages, timings, strict=True):
                stages[key].append(seconds)
    return {key: _percentiles(values) for key, values in stages.items()}


def throughput(diagnoser: Diagnoser, files: list[Path]) -> float:
    payloads = [(path.read_bytes(), path.name) for path in files]
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        diagnoser.predict([read_xray(data, name=name) for data, name in payloads])
        rates.append(len(payloads) / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", type=Path, help="a full-size X-ray (default: the largest in chest_xray_fullres)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH, help="a checkpoint (default: shipped)")
    parser.add_argument("--method", default="Grad-CAM")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    files = sorted(FULLRES.glob("*/*.jpeg"))
    image = args.image or max(files, key=lambda p: p.stat().st_size, default=None)
    if image is None:
        sys.exit(f"No image: pass --image FILE (no X-rays found under {FULLRES}).")
    data = image.read_bytes()
    diagnoser = Diagnoser(args.model)  # built once, as the app's cached resource
    width, height = read_xray(data, name=image.name).shape[::-1]
    result = {
        "image": f"{image.name} ({width}×{height} px, {len(data) / 1e6:.1f} MB)",
        "model": diagnoser.classifier.description,
        "threads": args.threads,
        "method": args.method,
        "latency": latency(diagnoser, data, image.name, method=args.method, repeats=args.repeats),
        "batch_images_per_s": round(throughput(diagnoser, files), 1) if files else None,
        "batch_images": len(files),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['image']}, {result['model']}, {args.threads} threads, {args.method}")
    for stage, figures in result["latency"].items():
        print(f"  {stage:<16} median {figures['median_ms']:7.1f} ms   p95 {figures['p95_ms']:7.1f} ms")
    print(f"  batch verdicts without heat maps: {result['batch_images_per_s']} images/s over {len(files)} full-size "
          f"X-rays")  # fmt: skip
    print(f"  peak resident memory {result['peak_rss_mb']} MB")


if __name__ == "__main__":
    main()
