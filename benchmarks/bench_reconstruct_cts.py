"""Every 3D reconstruction method on each of the four chest CTs, with the mean and spread across patients.

Usage::

    python benchmarks/bench_reconstruct_cts.py [--shared ../shared/data] [--side 128] [--views 2 8 30 90] [--json]

Runs :func:`core.reconstruct.bench.run_bench` (what ``python -m core reconstruct-bench --ct CT --lungs LUNGS``
runs) on each CT of :data:`core.lungs.data.CT_CASES`, with the lung model's segmentation beside the classical one.
The lung model trained on simulated views of three of these CTs: its rows are fair only on the held-out one
(:data:`core.lungs.data.HELD_OUT_CT`, marked), and in-sample on the others. The lung-shape prior's rows
("prior-hull") are fair on every CT: each CT is scored with a prior fitted on the other three.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.lungs.data import CT_CASES, HELD_OUT_CT  # noqa: E402
from core.lungs.segment import LungSegmenter  # noqa: E402
from core.reconstruct.bench import run_bench  # noqa: E402
from core.reconstruct.prior import ct_hulls, fit_shape_prior  # noqa: E402

SHARED = REPO_ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--views", type=int, nargs="+", default=[2, 8, 30, 90])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    segment = LungSegmenter().find

    hulls = ct_hulls(args.shared, CT_CASES, side=args.side)
    table: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for case, (ct, lungs, ids) in CT_CASES.items():
        prior = fit_shape_prior(h for h in hulls if h[0] != case)  # leave this CT out
        # the demo CT's label map holds organs besides the lungs (10-14): its folder, which the bench reads so
        source = {"ct": args.shared / ct, "lungs": args.shared / lungs} if set(ids) == {1, 2} else {
            "ct": (args.shared / ct).parent}  # fmt: skip
        rows = run_bench(source["ct"], lungs=source.get("lungs"), side=args.side, view_counts=tuple(args.views),
                         segment=segment, shape_prior=prior)  # fmt: skip
        for row in rows:
            table[(row["method"], row["views"])][case] = row["dice"]
        print(f"{case}: done", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps([{"method": m, "views": v, "dice": d} for (m, v), d in table.items()]))
        return
    cases = list(CT_CASES)
    header = "".join(f"{c[:14] + ('*' if c == HELD_OUT_CT else ''):>16}" for c in cases)
    print(f"{'method':<34}{'views':>6}{header}{'mean':>8}{'sd':>7}{'min':>7}")
    for (method, views), dice in table.items():
        values = np.array([dice[c] for c in cases if dice[c] is not None])  # a failed method has no figure
        cells = "".join("{:>16}".format("failed" if dice[c] is None else f"{dice[c]:.3f}") for c in cases)
        print(f"{method:<34}{views:>6}{cells}{values.mean():>8.3f}{values.std(ddof=1):>7.3f}{values.min():>7.3f}")
    print(f"* held out from the lung model's training ({HELD_OUT_CT}); its 'learned' rows elsewhere are in-sample.")
    print("prior-hull rows: each CT scored with a lung-shape prior fitted on the other three.")


if __name__ == "__main__":
    main()
