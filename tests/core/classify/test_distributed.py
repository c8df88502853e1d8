"""Training across processes: shards of an epoch, and a real 2-process run under torchrun (gloo on CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from core.classify.checkpoint import read_meta
from core.classify.distributed import World, shard
from tests.conftest import REPO_ROOT


def test_shards_are_disjoint_equally_long_and_cover_nearly_everything():
    order = torch.randperm(103, generator=torch.Generator().manual_seed(0))
    parts = [shard(order, World(rank=r, size=4)) for r in range(4)]
    assert {len(p) for p in parts} == {25}
    joined = torch.cat(parts)
    assert len(set(joined.tolist())) == 100 and set(joined.tolist()) <= set(order.tolist())
    assert torch.equal(shard(order, World()), order)


def test_a_two_process_run_under_torchrun(shared_data, tmp_path):
    out = tmp_path / "ddp"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "core"]
    command = [*launcher, "train", "--data", str(shared_data / "chest_xray"), "--arch", "resnet18", "--epochs", "2",
               "--out", str(out), "--per-class-limit", "16", "--input-size", "64", "--batch-size", "16", "--threads",
               "1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "distributed: 2 processes (gloo)" in result.stdout
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]  # written once, by process 0
    meta = read_meta(out / "model.pt")
    assert meta.hardware.startswith("2 processes") and "accuracy" in meta.test
