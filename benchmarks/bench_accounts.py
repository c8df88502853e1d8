"""What accounts cost: a sign-in's password check, and the database work every page run adds (who is signed in,
an audit row, a doctor's own records among many).

Usage::

    python benchmarks/bench_accounts.py [--records 10000] [--repeats 50] [--db-url URL] [--json]

Prints the median and 95th percentile of each step, over ``--repeats`` runs, on a throw-away SQLite database (or
``--db-url``, e.g. a PostgreSQL database made for it): ``--records`` records spread over 20 doctors, and one doctor's
History query (the newest 10 000 of theirs, filtered by owner through its index) against an admin's (everyone's).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.auth import FailureDelay, hash_password  # noqa: E402
from core.store.audit import AuditTrail  # noqa: E402
from core.store.predictions import PredictionStore  # noqa: E402
from core.store.users import UserStore  # noqa: E402
from core.types import Prediction  # noqa: E402


def _timed(step, repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()
        times.append(1000 * (time.perf_counter() - started))
    times.sort()
    return {"median_ms": statistics.median(times), "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--db-url")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    url = args.db_url or f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-accounts-')) / 'b.db'}"
    users, trail, records = UserStore(url), AuditTrail(url), PredictionStore(url)
    users.add("doctor-0", password="a long password")
    stored = hash_password("a long password")
    prediction = Prediction(label="NORMAL", probabilities={"NORMAL": 0.9, "PNEUMONIA": 0.1}, threshold=0.5, model="m")
    for i in range(args.records):
        records.add(file_name=f"image-{i:012x}.png", sha256=f"{i:064x}", prediction=prediction, model_version="v1",
                    owner=f"doctor-{i % 20}")  # fmt: skip
    delays = FailureDelay()  # no failures on record: the check alone
    unknown = lambda: delays.check("nobody", "a guess", None, sleep=lambda s: None)  # noqa: E731
    results = {
        "password check (scrypt)": _timed(lambda: delays.check("doctor-0", "a long password", stored), 10),
        "unknown account (decoy check)": _timed(unknown, 10),
        "who is signed in (account row)": _timed(lambda: users.get("doctor-0"), args.repeats),
        "audit row written": _timed(lambda: trail.record("doctor-0", "view-records", "own"), args.repeats),
        "a doctor's History (own records)": _timed(lambda: records.query(owner="doctor-0"), args.repeats // 5 or 1),
        "an admin's History (all records)": _timed(lambda: records.query(owner=None), args.repeats // 5 or 1),
    }
    if args.json:
        print(json.dumps({"records": args.records, "database": url.split(":")[0], "steps": results}))
        return
    print(f"{args.records} records over 20 doctors, {url.split(':')[0]}")
    for name, figures in results.items():
        print(f"{name:36s} median {figures['median_ms']:8.2f} ms   p95 {figures['p95_ms']:8.2f} ms")


if __name__ == "__main__":
    main()
