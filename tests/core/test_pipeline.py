"""Pipelines of steps: stages kept, quality measured against the input, order rules enforced."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core import pipeline
from core.errors import InputError
from tests.helpers import ramp

DENOISING = (
    pipeline.SaltAndPepper(amount=0.05, seed=1),
    pipeline.MedianFilter(kernel_size=3),
    pipeline.Clahe(clip_limit=2.0),
    pipeline.Resize(height=256, width=256),
)


def test_run_keeps_every_stage_read_only_and_leaves_the_input_alone(real_xray):
    stages = pipeline.run_pipeline(real_xray.pixels, DENOISING)
    assert [stage.step for stage in stages] == [None, *DENOISING]
    assert stages[0].label == "Input"
    assert stages[-1].pixels.shape == (256, 256)
    for stage in stages:
        assert not stage.pixels.flags.writeable
        assert stage.in_unit_range
    assert np.array_equal(stages[0].pixels, real_xray.pixels)


def test_assessment_shows_the_median_filter_recovering_the_noise(real_xray):
    stages = pipeline.run_pipeline(real_xray.pixels, DENOISING)
    input_quality, noisy, filtered, _, resized = pipeline.assess_stages(stages)
    assert math.isinf(input_quality.psnr_db) and input_quality.ssim == 1.0
    assert filtered.psnr_db > noisy.psnr_db + 15  # ~18 dB → ~42 dB measured
    assert resized is not None  # compared with the input resized the same way


def test_zscore_leaves_the_unit_range_and_is_not_assessed():
    steps = (pipeline.MedianFilter(), pipeline.ZScoreNormalization(), pipeline.Resize(height=64, width=64))
    stages = pipeline.run_pipeline(ramp(), steps)
    assert [stage.in_unit_range for stage in stages] == [True, True, False, False]
    assert pipeline.assess_stages(stages)[2:] == [None, None]
    shown = pipeline.to_display(stages[-1])
    assert shown.min() == 0.0 and shown.max() == 1.0


def test_minmax_after_zscore_returns_to_the_unit_range():
    stages = pipeline.run_pipeline(ramp(), (pipeline.ZScoreNormalization(), pipeline.MinMaxNormalization()))
    assert stages[-1].in_unit_range


def test_a_unit_range_step_after_zscore_is_refused_with_a_sentence():
    with pytest.raises(InputError, match="z-score"):
        pipeline.run_pipeline(ramp(), (pipeline.ZScoreNormalization(), pipeline.Clahe()))


def test_steps_are_values():
    assert pipeline.MedianFilter(kernel_size=5) == pipeline.MedianFilter(kernel_size=5)
    assert len({pipeline.Clahe(), pipeline.Clahe(), pipeline.Clahe(clip_limit=3)}) == 2
    assert "5×5" in pipeline.MedianFilter(kernel_size=5).label
    assert "stretched" in pipeline.Resize(keep_aspect=False).label


def test_extending_a_prefix_equals_running_the_whole_pipeline(real_xray):
    whole = pipeline.run_pipeline(real_xray.pixels, DENOISING)
    extended = pipeline.extend_pipeline(pipeline.run_pipeline(real_xray.pixels, DENOISING[:-1]), DENOISING[-1])
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in zip(whole, extended, strict=True))
    assert pipeline.assess_stage(whole, 2) == pipeline.assess_stages(whole)[2]
