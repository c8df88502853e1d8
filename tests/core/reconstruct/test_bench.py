"""``python -m core reconstruct-bench`` on the real CT, at a coarse grid to stay quick."""

from __future__ import annotations

import json

from core.__main__ import main


def test_the_bench_prints_every_method_and_meets_the_targets_that_hold_at_64_px(ct_dir, capsys):
    assert main(["reconstruct-bench", "--ct", str(ct_dir), "--side", "64", "--views", "2", "90", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    keys = {"method", "views", "dice", "iou", "psnr", "ssim", "seconds", "peak_mb"}
    assert all(set(row) == keys for row in rows)
    by = {(row["method"], row["views"]): row for row in rows}
    assert {("fbp", 90), ("sart", 90), ("visual-hull (true silhouettes)", 2), ("elliptic-hull (segmented)", 2),
            ("single-view (segmented)", 1)} <= set(by)  # fmt: skip
    assert by[("fbp", 90)]["dice"] >= 0.93 and by[("fbp", 90)]["psnr"] > 30
    assert by[("visual-hull (true silhouettes)", 2)]["psnr"] is None
    assert by[("elliptic-hull (true silhouettes)", 2)]["dice"] >= 0.7
