"""The architectures: shapes, the built-in normalisation, grey input, Grad-CAM layers, and the pretrained option."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision

from core.classify.models import ARCHITECTURES, InstanceStandardize, build_model
from core.errors import ModelError


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_maps_grey_batches_to_one_logit_each(arch):
    torch.manual_seed(0)
    model = build_model(arch).eval()
    with torch.no_grad():
        logits = model(torch.rand(3, 1, 64, 64))
    assert logits.shape == (3,)
    assert torch.isfinite(logits).all()
    # The layer Grad-CAM reads exists in the backbone.
    assert ARCHITECTURES[arch].cam_layer in dict(model.backbone.named_modules())


def test_the_model_ignores_global_exposure():
    # Per-image standardisation inside the model: a brighter or more contrasted copy of an image (a different
    # detector or exposure) gives the same logit.
    torch.manual_seed(0)
    model = build_model("xraynet").eval()
    image = torch.rand(1, 1, 64, 64) * 0.5
    with torch.no_grad():
        reference, changed = model(image), model(image * 1.6 + 0.1)
    torch.testing.assert_close(changed, reference, rtol=1e-3, atol=1e-4)  # float32 arithmetic differs slightly


def test_standardisation_of_a_constant_image_stays_near_zero():
    out = InstanceStandardize()(torch.full((2, 1, 8, 8), 0.3))
    assert out.abs().max() < 1e-3  # float32 rounding of the mean (~1e-8) over the 1e-3 floor


def test_unknown_architecture_is_refused_with_the_choices():
    with pytest.raises(ModelError, match="choose one of xraynet, resnet18"):
        build_model("alexnet")


def test_the_compact_cnn_has_no_imagenet_weights():
    with pytest.raises(ModelError, match="from scratch"):
        build_model("xraynet", pretrained=True)


def test_pretrained_weights_without_a_network_fail_with_a_clear_message(monkeypatch):
    def offline(name, *, weights):
        if weights is None:
            raise AssertionError("the pretrained path must ask for weights")
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torchvision.models, "get_model", offline)
    with pytest.raises(ModelError, match=r"could not be downloaded.*copy the file resnet18-\w+\.pth into"):
        build_model("resnet18", pretrained=True)


def test_pretrained_rgb_filters_become_grey_filters(monkeypatch):
    # A grey image is R = G = B, so summing the RGB filters gives the pretrained network's response.
    real = torchvision.models.get_model

    def fake_pretrained(name, *, weights):
        torch.manual_seed(1)
        return real(name, weights=None)  # stands for downloaded weights

    monkeypatch.setattr(torchvision.models, "get_model", fake_pretrained)
    model = build_model("resnet18", pretrained=True)
    torch.manual_seed(1)
    rgb = real("resnet18", weights=None).conv1.weight
    torch.testing.assert_close(model.backbone.conv1.weight, rgb.sum(dim=1, keepdim=True))


def test_the_settings_name_exactly_the_choices_that_exist():
    """core.classify.settings names the choices without importing torch; the modules that implement them agree."""
    from core.classify.settings import ARCHITECTURE_NAMES, AUGMENTATION_LEVELS, HEAT_MAP_METHODS
    from core.classify.transforms import AUGMENTATIONS
    from core.explain import CAM_METHODS

    assert tuple(ARCHITECTURES) == ARCHITECTURE_NAMES
    assert tuple(AUGMENTATIONS) == AUGMENTATION_LEVELS
    assert tuple(CAM_METHODS) == HEAT_MAP_METHODS
