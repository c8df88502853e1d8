"""Filters and morphology: the property each must hold, on real X-rays and small synthetic images."""

from __future__ import annotations

import numpy as np
import pytest

from core import preprocess as P
from core.errors import InputError
from core.quality import compare
from tests.helpers import disk_image, ramp


def _read_only(array: np.ndarray) -> np.ndarray:
    view = np.array(array, dtype=np.float32)
    view.setflags(write=False)
    return view


ALL_FUNCTIONS = [
    lambda x: P.add_salt_and_pepper(x, amount=0.1),
    lambda x: P.median_filter(x, kernel_size=3),
    lambda x: P.median_filter(x, kernel_size=7),
    P.equalize_histogram,
    lambda x: P.apply_clahe(x),
    lambda x: P.normalize_minmax(x, low_percentile=1, high_percentile=99),
    P.standardize,
    lambda x: P.resize(x, size=(50, 70)),
    lambda x: P.resize(x, size=(50, 70), keep_aspect=False),
    lambda x: P.morphology(x, operation="open"),
]


@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_functions_are_pure_float32_and_accept_read_only_input(function):
    image = _read_only(ramp(90, 110) * 0.8 + 0.1)
    before = image.copy()
    result = function(image)
    assert result.dtype == np.float32 and result.ndim == 2
    assert np.array_equal(image, before)
    assert result is not image


@pytest.mark.parametrize("function", ALL_FUNCTIONS)
def test_functions_refuse_non_2d_input_with_a_sentence(function):
    with pytest.raises(InputError, match="shape"):
        function(np.zeros((10, 10, 3), dtype=np.float32))


# ------------------------------------------------------------------------------------------------------------------
# Noise and the median filter


def test_salt_and_pepper_changes_the_requested_fraction_and_is_seeded():
    image = np.full((200, 200), 0.5, dtype=np.float32)
    noisy = P.add_salt_and_pepper(image, amount=0.1, seed=3)
    changed = noisy != 0.5
    assert changed.mean() == pytest.approx(0.1, abs=0.01)  # 40 000 Bernoulli draws: s.d. 0.0015
    assert set(np.unique(noisy[changed])) <= {0.0, 1.0}
    assert np.array_equal(noisy, P.add_salt_and_pepper(image, amount=0.1, seed=3))
    assert not np.array_equal(noisy, P.add_salt_and_pepper(image, amount=0.1, seed=4))


def test_median_filter_removes_injected_noise_on_a_real_xray(real_xray):
    clean = real_xray.pixels
    noisy = P.add_salt_and_pepper(clean, amount=0.05, seed=0)
    filtered = P.median_filter(noisy, kernel_size=3)
    before, after = compare(clean, noisy), compare(clean, filtered)
    # 5 % impulses leave ~18 dB; a 3×3 median recovers most of it (measured ~42 dB on this image).
    assert after.psnr_db > before.psnr_db + 15
    assert after.ssim > before.ssim + 0.3


def test_median_filter_erases_isolated_specks_on_a_flat_image():
    image = np.full((64, 64), 0.5, dtype=np.float32)
    image[10, 10], image[40, 20] = 1.0, 0.0
    for kernel in (3, 5, 7):
        assert np.allclose(P.median_filter(image, kernel_size=kernel), 0.5, atol=1 / 255)


def test_median_filter_keeps_a_step_edge():
    image = np.zeros((40, 40), dtype=np.float32)
    image[:, 20:] = 1.0
    assert np.array_equal(P.median_filter(image, kernel_size=5), image)


@pytest.mark.parametrize("kernel", [0, 1, 4, -3])
def test_median_filter_refuses_bad_kernels(kernel):
    with pytest.raises(InputError, match="odd"):
        P.median_filter(np.zeros((20, 20), dtype=np.float32), kernel_size=kernel)


# ------------------------------------------------------------------------------------------------------------------
# Contrast


def test_histogram_equalisation_flattens_the_histogram():
    low_contrast = 0.4 + 0.2 * ramp(100, 256)  # intensities squeezed into [0.4, 0.6]
    equalised = P.equalize_histogram(low_contrast)
    assert equalised.min() < 0.05 and equalised.max() > 0.95
    counts, _ = np.histogram(equalised, bins=8, range=(0, 1))
    # A uniform ramp equalises to near-uniform bins (each ~1/8 of the pixels; 8-bit quantisation leaves ~20 %).
    assert counts.min() > 0.8 * counts.mean()


def test_clahe_raises_local_contrast_on_a_real_xray_and_keeps_16bit_precision(real_xray):
    enhanced = P.apply_clahe(real_xray.pixels, clip_limit=3.0)
    assert 0.0 <= enhanced.min() and enhanced.max() <= 1.0
    lung = (slice(400, 700), slice(300, 600))  # right lung field of IM-0282-0001
    assert enhanced[lung].std() > 1.2 * real_xray.pixels[lung].std()
    smooth = 0.45 + 0.1 * ramp(128, 1024)
    assert len(np.unique(P.apply_clahe(smooth))) > 256  # processed at 16 bits, not 8


def test_clahe_refuses_bad_parameters():
    with pytest.raises(InputError, match="clip limit"):
        P.apply_clahe(ramp(), clip_limit=0)


# ------------------------------------------------------------------------------------------------------------------
# Normalisation


def test_minmax_spans_zero_to_one(real_xray):
    image = 0.2 + 0.5 * real_xray.pixels
    assert P.normalize_minmax(image).min() == 0.0 and P.normalize_minmax(image).max() == 1.0


def test_minmax_clips_at_the_percentiles():
    image = np.random.default_rng(0).random((200, 200), dtype=np.float32)  # continuous values: no ties
    clipped = P.normalize_minmax(image, low_percentile=5, high_percentile=95)
    assert (clipped == 0).mean() == pytest.approx(0.05, abs=0.001)
    assert (clipped == 1).mean() == pytest.approx(0.05, abs=0.001)


def test_normalisations_of_a_constant_image_are_zero():
    constant = np.full((30, 30), 0.7, dtype=np.float32)
    assert not P.normalize_minmax(constant).any()
    assert not P.standardize(constant).any()


def test_zscore_has_zero_mean_and_unit_deviation(real_xray):
    z = P.standardize(real_xray.pixels)
    assert float(z.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(z.std()) == pytest.approx(1.0, abs=1e-4)


def test_minmax_refuses_crossed_percentiles():
    with pytest.raises(InputError, match="Percentiles"):
        P.normalize_minmax(ramp(), low_percentile=60, high_percentile=40)


# ------------------------------------------------------------------------------------------------------------------
# Resizing


def test_resize_keeping_aspect_pads_and_keeps_proportions(real_xray):
    height, width = real_xray.shape  # 1372 × 1588: wider than tall
    out = P.resize(real_xray.pixels, size=(224, 224))
    assert out.shape == (224, 224)
    top, left, new_h, new_w = P.letterbox_box(real_xray.shape, (224, 224))
    assert (left, new_w) == (0, 224)
    assert new_w / new_h == pytest.approx(width / height, rel=0.01)  # aspect kept to rounding (1 px)
    assert not out[:top].any() and not out[top + new_h :].any()  # padding is black
    assert out[top : top + new_h].mean() == pytest.approx(real_xray.pixels.mean(), abs=0.01)


def test_resize_stretch_fills_the_target():
    out = P.resize(disk_image(100, 40), size=(50, 200), keep_aspect=False)
    assert out.shape == (50, 200)
    rows = np.flatnonzero(out.max(axis=1) > 0.5)
    columns = np.flatnonzero(out.max(axis=0) > 0.5)
    # The disk (80 px across) becomes an ellipse 4 times wider than tall.
    assert (np.ptp(columns) + 1) / (np.ptp(rows) + 1) == pytest.approx(4.0, rel=0.1)


def test_resize_up_stays_within_the_input_range():
    out = P.resize(disk_image(64, 20), size=(256, 256))
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_resize_refuses_empty_targets():
    with pytest.raises(InputError, match="at least 1×1"):
        P.resize(ramp(), size=(0, 10))


# ------------------------------------------------------------------------------------------------------------------
# Morphology


def _specks_and_disk() -> np.ndarray:
    image = disk_image(128, 30)
    for row, column in [(10, 10), (15, 110), (110, 20), (100, 100)]:
        image[row : row + 2, column : column + 2] = 1.0  # 2×2 specks, far from the disk
    return image


def test_opening_removes_specks_smaller_than_the_element_and_keeps_the_disk():
    image = _specks_and_disk()
    opened = P.morphology(image, operation="open", shape="ellipse", size=5)
    assert not opened[:20].any() and not opened[95:].any()  # specks gone
    disk = disk_image(128, 30)
    assert np.abs(opened - disk).sum() <= 0.01 * disk.sum()  # disk (r = 30 ≫ 5) unchanged to 1 %


def test_closing_fills_holes_smaller_than_the_element():
    image = disk_image(128, 30)
    image[60:62, 60:62] = 0.0  # a 2×2 hole
    closed = P.morphology(image, operation="close", size=5)
    assert closed[60:62, 60:62].min() == 1.0


def test_erosion_and_dilation_bracket_the_image_and_define_gradient_and_tophat(real_xray):
    image = P.resize(real_xray.pixels, size=(256, 256))
    eroded = P.morphology(image, operation="erode", size=7)
    dilated = P.morphology(image, operation="dilate", size=7)
    opened = P.morphology(image, operation="open", size=7)
    assert np.all(eroded <= image) and np.all(image <= dilated)
    assert np.allclose(P.morphology(image, operation="gradient", size=7), dilated - eroded, atol=1e-6)
    assert np.allclose(P.morphology(image, operation="tophat", size=7), image - opened, atol=1e-6)
    assert np.allclose(P.morphology(opened, operation="open", size=7), opened, atol=1e-6)  # idempotent


def test_erosion_shrinks_a_disk_by_the_element_radius():
    eroded = P.morphology(disk_image(128, 30), operation="erode", shape="ellipse", size=11)
    # Erosion by a disk of radius 5 leaves a disk of radius 25 (area π·25²), to pixelisation.
    assert eroded.sum() == pytest.approx(np.pi * 25**2, rel=0.05)


def test_structuring_elements_have_their_shapes():
    assert P.structuring_element("rect", 5).sum() == 25
    cross = P.structuring_element("cross", 5)
    assert cross.sum() == 9 and cross[2].all() and cross[:, 2].all()
    ellipse = P.structuring_element("ellipse", 7)
    assert ellipse[3, 3] == 1 and ellipse[0, 0] == 0


def test_morphology_views_hold_every_operation():
    views = P.morphology_views(_specks_and_disk(), shape="rect", size=3)
    assert list(views) == list(P.MORPHOLOGY_OPERATIONS)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"operation": "melt"}, "Unknown morphological operation"),
        ({"operation": "open", "shape": "star"}, "Unknown structuring element"),
        ({"operation": "open", "size": 4}, "odd"),
        ({"operation": "open", "iterations": 0}, "iteration"),
    ],
)
def test_morphology_refuses_bad_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        P.morphology(ramp(), **kwargs)
