"""``python -m core train`` and ``python -m core evaluate`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
