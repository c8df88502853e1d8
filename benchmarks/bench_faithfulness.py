"""How faithful each heat-map method is for a model: the faithfulness figure over validation images.

Usage::

    python benchmarks/bench_faithfulness.py [--model PATH ...] [--data DIR] [--images 30] [--threads 2] [--json]

For each model (the shipped default when none is given) and each heat-map method, on ``--images`` images drawn
(seed 0) from the model's own patient-disjoint validation set carved from ``train/`` (never test): the median
*excess* (fall of the verdict's calibrated log-odds when the map's top 20 % of pixels are removed, minus the fall
for 20 % random pixels; see :mod:`core.explain`), how many maps are telling / weak / decorative, and the median
seconds per map. Score-CAM is left out unless ``--methods`` names it (about 2 s a map on two cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.classify.checkpoint import DEFAULT_MODEL_PATH, read_meta  # noqa: E402
from core.classify.train import TrainConfig, dataset_splits  # noqa: E402
from core.diagnose import Diagnoser  # noqa: E402
from core.io import read_xray_file  # noqa: E402

DATA = REPO_ROOT.parent / "shared" / "data" / "chest_xray"


def measure(model: Path, data: Path, *, methods: list[str], images: int) -> dict[str, dict]:
    recipe = read_meta(model).recipe
    validation = dataset_splits(TrainConfig.from_recipe(recipe, data=data)).validation
    chosen = np.random.default_rng(0).choice(len(validation), size=min(images, len(validation)), replace=False)
    diagnoser = Diagnoser(model)
    batches = [diagnoser.classifier.batch([read_xray_file(validation[i].path)]) for i in chosen]
    result = {}
    for method in methods:
        excess, seconds, assessments = [], [], []
        for inputs in batches:
            start = time.perf_counter()
            cam = diagnoser.explainer.explain(inputs, method=method)
            seconds.append(time.perf_counter() - start)
            excess.append(cam.faithfulness.excess)
            assessments.append(cam.faithfulness.assessment)
        result[method] = {
            "median_excess": round(statistics.median(excess), 2),
            **{kind: assessments.count(kind) for kind in ("telling", "weak", "decorative")},
            "median_s": round(statistics.median(seconds), 3),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, nargs="*", default=[DEFAULT_MODEL_PATH])
    parser.add_argument("--data", type=Path, default=DATA, help="the data folder the model trained on")
    parser.add_argument("--methods", nargs="*", default=["Grad-CAM", "Grad-CAM++", "Eigen-CAM"])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if not (args.data / "train").is_dir():
        sys.exit(f"No data: pass --data DIR (no train/ under {args.data}).")

    results = {str(m): measure(m, args.data, methods=args.methods, images=args.images) for m in args.model}
    if args.json:
        print(json.dumps(results))
        return
    for model, methods in results.items():
        print(f"{model} ({args.images} validation images, {args.threads} threads)")
        for method, f in methods.items():
            print(f"  {method:<11} median excess {f['median_excess']:5.2f}   telling {f['telling']:3d}  weak "
                  f"{f['weak']:3d}  decorative {f['decorative']:3d}   {1000 * f['median_s']:.0f} ms a map")  # fmt: skip


if __name__ == "__main__":
    main()
