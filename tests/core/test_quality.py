"""PSNR and SSIM against a reference."""

import math

import numpy as np
import pytest

from core.errors import InputError
from core.quality import compare
from tests.helpers import ramp


def test_identical_images_are_perfect():
    quality = compare(ramp(), ramp())
    assert math.isinf(quality.psnr_db) and quality.ssim == 1.0


def test_psnr_matches_its_definition():
    reference = np.zeros((64, 64), dtype=np.float32)
    image = reference + 0.1  # MSE 0.01 → PSNR = 10·log10(1 / 0.01) = 20 dB
    assert compare(reference, image).psnr_db == pytest.approx(20.0, abs=1e-4)


def test_more_noise_is_worse():
    rng = np.random.default_rng(0)
    reference = ramp(128, 128)
    light = np.clip(reference + rng.normal(0, 0.02, reference.shape), 0, 1)
    heavy = np.clip(reference + rng.normal(0, 0.2, reference.shape), 0, 1)
    assert compare(reference, light).psnr_db > compare(reference, heavy).psnr_db
    assert compare(reference, light).ssim > compare(reference, heavy).ssim


def test_shapes_must_match():
    with pytest.raises(InputError, match="same shape"):
        compare(ramp(64, 64), ramp(64, 65))
