"""Time per image of ``python -m core predict --cam`` over many full-size files, after its start-up.

Usage::

    python benchmarks/bench_predict_cli.py [--model PATH] [--faithfulness] [--runs 3] [FILE ...]

Runs the command as a user does (one process, every file in one call, heat-map overlays written to a scratch
folder, one JSON line per file) and stamps each line as it arrives: the gaps between lines are the per-image times
once the model is loaded; start-up (imports, loading the model) is reported apart. FILEs default to the 24
full-size X-rays of ``../shared/data/chest_xray_fullres``. Prints the median and 95th percentile of the gaps and
their mean over each run, and the median start-up.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
FULLRES = REPO_ROOT.parent / "shared" / "data" / "chest_xray_fullres"


def one_run(files: list[str], options: list[str]) -> tuple[float, list[float]]:
    """Start-up (launch to first answer) and the gaps between answers, in seconds."""
    with tempfile.TemporaryDirectory() as overlays:
        command = [sys.executable, "-m", "core", "predict", *files, "--cam", overlays, "--json", *options]
        started = time.perf_counter()
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT) as process:
            stamps = [time.perf_counter() for _ in process.stdout]  # type: ignore[union-attr]
        if process.returncode != 0 or len(stamps) != len(files):
            sys.exit(f"predict ended with status {process.returncode} after {len(stamps)} of {len(files)} answers.")
    return stamps[0] - started, [b - a for a, b in itertools.pairwise(stamps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="X-ray files (default: the 24 full-size X-rays)")
    parser.add_argument("--model", help="a checkpoint (default: the shipped model)")
    parser.add_argument("--faithfulness", action="store_true", help="also check each map's faithfulness")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    files = args.files or sorted(str(p) for p in FULLRES.glob("*/*.jpeg"))
    if len(files) < 2:
        sys.exit(f"Need at least two files (none found under {FULLRES}: pass FILEs).")
    options = (["--model", args.model] if args.model else []) + (["--faithfulness"] if args.faithfulness else [])
    threads = os.environ.get("OMP_NUM_THREADS", "torch's default")
    print(f"python -m core predict --cam {' '.join(options)}: {len(files)} files, OMP_NUM_THREADS={threads}")
    startups = []
    for run in range(1, args.runs + 1):
        startup, gaps = one_run(files, options)
        startups.append(startup)
        ms = sorted(1000 * g for g in gaps)
        print(f"  run {run}: per image median {statistics.median(ms):.0f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.0f} "
              f"ms, mean {statistics.fmean(ms):.0f} ms")  # fmt: skip
    print(f"  start-up (to the first answer) median {statistics.median(startups):.1f} s")


if __name__ == "__main__":
    main()
