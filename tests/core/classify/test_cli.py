"""``python -m core train``, ``evaluate`` and ``predict`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          env=env, timeout=300)  # fmt: skip


def test_evaluate_prints_one_json_object_with_the_reported_figures(quick_model, shared_data):
    result = _run("evaluate", "--model", str(quick_model), "--data", str(shared_data / "chest_xray"), "--split",
                  "val", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["n"] == 16 and figures["counts"] == {"NORMAL": 8, "PNEUMONIA": 8}
    assert {"accuracy", "sensitivity", "specificity", "precision", "f1", "auc", "confusion", "ece"} <= set(figures)
    low, high = figures["ci95"]["accuracy"]
    assert low <= figures["accuracy"] <= high
    assert sum(map(sum, figures["confusion"])) == 16


def test_errors_are_one_sentence_not_a_traceback(tmp_path):
    result = _run("evaluate", "--model", str(tmp_path / "none.pt"), "--data", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.startswith("error: No model file") and "Traceback" not in result.stderr


def test_train_from_the_command_line(shared_data, tmp_path):
    result = _run("train", "--data", str(shared_data / "chest_xray"), "--out", str(tmp_path), "--epochs", "1",
                  "--input-size", "64", "--batch-size", "16", "--per-class-limit", "16", "--threads", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "epoch 1/1" in result.stdout and (tmp_path / "model.pt").exists()


def test_predict_gives_one_json_line_per_file_and_survives_a_bad_one(quick_model, fullres_paths, tmp_path):
    broken = tmp_path / "broken.jpeg"
    broken.write_bytes(fullres_paths[0].read_bytes()[:500])  # a truncated JPEG
    result = _run("predict", str(fullres_paths[0]), str(broken), str(fullres_paths[-1]), "--model",
                  str(quick_model), "--json")  # fmt: skip
    assert result.returncode == 1  # one file failed
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["file"] for line in lines] == [str(fullres_paths[0]), str(broken), str(fullres_paths[-1])]
    assert "error" in lines[1] and "truncated" in lines[1]["error"].lower()
    for line in (lines[0], lines[2]):
        assert line["label"] in ("NORMAL", "PNEUMONIA")
        assert sum(line["probabilities"].values()) == pytest.approx(1.0)
        assert (line["probabilities"]["PNEUMONIA"] >= line["threshold"]) == (line["label"] == "PNEUMONIA")
