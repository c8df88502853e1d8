"""The model's input pipeline and the training augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.classify.transforms import AUGMENTATIONS, AugmentParams, augment, model_input, sample_augmentation
from core.preprocess import add_salt_and_pepper


def test_model_input_is_square_in_unit_range_and_stretched(real_xray):
    out = model_input(real_xray.pixels, size=128)
    assert out.shape == (128, 128) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    # Stretched, not letterboxed: no black padding bands on a 1372×1588 image.
    assert out[:, :4].mean() > 0.05 and out[:, -4:].mean() > 0.05


def test_a_full_size_upload_reaches_the_model_as_its_data_set_copy_does(fullres_paths, shared_data):
    """The 24 originals are also in train/ as the data set's 224 px copies: the pipeline makes the original look like
    its copy (squashed first, then filtered at the copies' scale; filtering at full size first left 0.009 mean
    difference, 0.012 at worst)."""
    from core.io import read_xray_file

    differences = []
    for path in fullres_paths:
        copy = shared_data / "chest_xray" / "train" / path.parent.name / path.name
        original, published = read_xray_file(path).pixels, read_xray_file(copy).pixels
        differences.append(np.abs(model_input(original, size=224) - model_input(published, size=224)).mean())
    assert len(differences) == 24
    assert np.mean(differences) < 0.0075 and max(differences) < 0.01  # grey levels; JPEG and resampling remain


def test_model_input_removes_salt_and_pepper_noise():
    clean = np.tile(np.linspace(0.2, 0.8, 256, dtype=np.float32), (256, 1))
    noisy = add_salt_and_pepper(clean, amount=0.05, seed=0)
    error = np.abs(model_input(noisy, size=256) - clean).mean()
    assert error < 0.1 * np.abs(noisy - clean).mean()  # the median filter removes >90 % of the noise


def _identity(batch: int) -> AugmentParams:
    ones, zeros = torch.ones(batch), torch.zeros(batch)
    return AugmentParams(angle_deg=zeros, scale=ones, shift_x=zeros, shift_y=zeros, gamma=ones, noise_std=zeros)


def test_identity_augmentation_keeps_the_image():
    images = torch.rand(2, 1, 32, 32)
    torch.testing.assert_close(augment(images, _identity(2)), images, atol=1e-5, rtol=0)


def test_a_shift_moves_the_content_by_the_stated_fraction():
    images = torch.zeros(1, 1, 40, 40)
    images[..., 18:22, 18:22] = 1.0
    params = _identity(1)
    params = AugmentParams(**{**params.__dict__, "shift_x": torch.tensor([0.25])})
    moved = augment(images, params)
    columns = moved[0, 0].sum(dim=0).nonzero().flatten().float()
    assert columns.mean().item() == pytest.approx(19.5 + 10, abs=0.6)  # 0.25 of 40 px to the right


def test_gamma_darkens_or_brightens_mid_tones():
    images = torch.full((2, 1, 8, 8), 0.5)
    params = AugmentParams(**{**_identity(2).__dict__, "gamma": torch.tensor([2.0, 0.5])})
    out = augment(images, params)
    assert out[0].mean().item() == pytest.approx(0.25, abs=1e-4)
    assert out[1].mean().item() == pytest.approx(0.5**0.5, abs=1e-4)


def test_sampling_is_seeded_and_within_bounds():
    first = sample_augmentation(500, generator=torch.Generator().manual_seed(3), **AUGMENTATIONS["strong"])
    again = sample_augmentation(500, generator=torch.Generator().manual_seed(3), **AUGMENTATIONS["strong"])
    assert all(torch.equal(a, b) for a, b in zip(first.__dict__.values(), again.__dict__.values(), strict=True))
    standard = sample_augmentation(500, generator=torch.Generator().manual_seed(3))
    assert standard.angle_deg.abs().max() <= 10 and (standard.scale - 1).abs().max() <= 0.1
    assert first.noise_std.min() >= 0 and first.angle_deg.std() > 3  # really drawn, not constant


def test_augmented_images_stay_in_unit_range():
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(8, 1, 32, 32)
    params = sample_augmentation(8, generator=generator, **AUGMENTATIONS["strong"])
    out = augment(images, params, noise=torch.randn(images.shape, generator=generator))
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1


def test_strong_augmentation_draws_every_transform_within_bounds():
    params = sample_augmentation(500, generator=torch.Generator().manual_seed(0), **AUGMENTATIONS["strong"])
    assert params.angle_deg.abs().max() <= 15 and (params.scale - 1).abs().max() <= 0.2
    assert params.aspect.log().abs().max() <= 0.15 + 1e-6 and params.contrast.log().abs().max() <= 0.4 + 1e-6
    assert params.sharpness.min() >= -1.0 and params.sharpness.max() <= 1.5 and params.sharpness.std() > 0.3
    # The standard level leaves the extra transforms out.
    standard = sample_augmentation(4, generator=torch.Generator().manual_seed(0), **AUGMENTATIONS["standard"])
    assert standard.aspect is None and standard.contrast is None and standard.sharpness is None


def test_aspect_stretches_horizontally_only():
    images = torch.zeros(1, 1, 40, 40)
    images[..., 15:25, 15:25] = 1.0
    params = AugmentParams(**{**_identity(1).__dict__, "aspect": torch.tensor([1.5])})
    out = augment(images, params)[0, 0]
    width = (out.sum(dim=0) > 0.5 * out.sum(dim=0).max()).sum().item()
    height = (out.sum(dim=1) > 0.5 * out.sum(dim=1).max()).sum().item()
    assert width == pytest.approx(15, abs=1) and height == pytest.approx(10, abs=1)


def test_sharpness_blurs_or_sharpens_an_edge():
    images = torch.zeros(2, 1, 16, 16)
    images[..., 8:] = 0.8
    params = AugmentParams(**{**_identity(2).__dict__, "sharpness": torch.tensor([-1.0, 1.0])})
    blurred, sharpened = augment(images, params)[:, 0, 8]
    assert 0.0 < blurred[7] < 0.4 < blurred[8] < 0.8  # the step is smoothed
    assert sharpened[8] == pytest.approx(1.0, abs=0.02) or sharpened[8] > 0.8  # overshoot on the bright side
    assert sharpened[7] == 0.0  # and (clipped) undershoot on the dark side


def test_contrast_and_brightness_change_grey_levels_about_the_mean():
    images = torch.linspace(0.3, 0.7, 64).view(1, 1, 8, 8).repeat(2, 1, 1, 1)
    params = AugmentParams(
        **{**_identity(2).__dict__, "contrast": torch.tensor([2.0, 1.0]), "brightness": torch.tensor([0.0, 0.1])}
    )
    out = augment(images, params)
    assert (out[0].max() - out[0].min()).item() == pytest.approx(0.8, abs=1e-4)
    torch.testing.assert_close(out[1], images[1] + 0.1)
