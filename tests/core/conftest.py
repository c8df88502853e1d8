"""Fixtures for the classifier's tests: small real subsets of the data set and a quickly trained model."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.classify.train import TrainConfig, train


def quick_config(shared_data: Path, out: Path, **changes) -> TrainConfig:
    """A few epochs on 32 real training images per class at 64×64 px: seconds on one CPU thread."""
    settings = dict(data=str(shared_data / "chest_xray"), out=str(out), epochs=2, input_size=64, batch_size=16,
                    per_class_limit=32, threads=1)  # fmt: skip
    return TrainConfig(**{**settings, **changes})


@pytest.fixture(scope="session")
def quick_model(shared_data, tmp_path_factory) -> Path:
    """``model.pt`` of a 2-epoch run (calibrated on its validation images, reported on its test images)."""
    return train(quick_config(shared_data, tmp_path_factory.mktemp("quick")))
