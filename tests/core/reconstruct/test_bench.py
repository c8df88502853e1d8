"""``python -m core reconstruct-bench`` on the real CT, at a coarse grid to stay quick."""

from __future__ import annotations

import json

from core.__main__ import main


def test_the_bench_prints_every_method_and_meets_the_targets_that_hold_at_64_px(ct_dir, capsys):
    assert main(["reconstruct-bench", "--ct", str(ct_dir), "--side", "64", "--views", "2", "90", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    keys = {"method", "views", "dice", "iou", "psnr", "ssim", "seconds", "peak_mb", "error"}
    assert all(set(row) == keys for row in rows)
    by = {(row["method"], row["views"]): row for row in rows}
    assert {("fbp", 90), ("sart", 90), ("visual-hull (true silhouettes)", 2), ("elliptic-hull (segmented)", 2),
            ("prior-hull (learned)", 2), ("single-view (segmented)", 1)} <= set(by)  # fmt: skip
    assert by[("fbp", 90)]["dice"] >= 0.93 and by[("fbp", 90)]["psnr"] > 30
    assert by[("visual-hull (true silhouettes)", 2)]["psnr"] is None
    assert by[("elliptic-hull (true silhouettes)", 2)]["dice"] >= 0.7
    assert by[("prior-hull (true silhouettes)", 2)]["dice"] > by[("elliptic-hull (true silhouettes)", 2)]["dice"]
    assert by[("visual-hull (learned)", 2)]["dice"] > by[("visual-hull (segmented)", 2)]["dice"]  # the lung model


def test_a_ct_file_and_its_lung_labels_are_benched_and_a_missing_label_file_is_a_sentence(shared_data, capsys):
    from core.lungs.data import CT_CASES, HELD_OUT_CT

    ct, lungs, _ = CT_CASES[HELD_OUT_CT]
    arguments = ["reconstruct-bench", "--ct", str(shared_data / ct), "--side", "32", "--views", "2", "--json"]
    assert main([*arguments, "--lungs", str(shared_data / lungs)]) == 0
    rows = {row["method"]: row for row in json.loads(capsys.readouterr().out)}
    assert {"visual-hull (learned)", "visual-hull (segmented)", "single-view (learned)"} <= set(rows)
    assert rows["visual-hull (true silhouettes)"]["dice"] > 0.5 and rows["visual-hull (learned)"]["error"] is None
    # the classical method finds no lung in this CT's 32 px lateral: the row says so, the bench goes on
    assert rows["visual-hull (segmented)"]["dice"] is None and "empty" in rows["visual-hull (segmented)"]["error"]
    assert main(arguments) == 2 and "give its lung labels too (--lungs" in capsys.readouterr().err
