"""The lung U-Net and its checkpoints: the only module that uses segmentation_models_pytorch.

``segmentation_models_pytorch`` (smp) builds a U-Net around any timm encoder. Its encoder here is EfficientNet-Lite0
(timm's ``tf_efficientnet_lite0``) with the ImageNet weights the classifier also starts from
(:mod:`core.classify.efficientnet`, installed with the project, offline), on one grey channel; the decoder is
smp's, lighter than its default (channels 128-64-32-16-8), so the whole network has 3.8 M parameters (7.6 MB in
float16) and segments a 256 px image in about 50 ms on two CPU threads. Chosen over MONAI's U-Nets, which start
from random weights: with 89 licensed real films to train on, an encoder that already knows edges and textures is
worth more than a deeper network.

The network maps grey images ``(B, 1, S, S)`` in ``[0, 1]`` to lung logits ``(B, 1, S, S)``; its first layer
standardises each image (as the classifier's does). A checkpoint is a plain dictionary read with
``weights_only=True``::

    {"format": "xray-lungs", "version": 1, "meta": {...}, "state_dict": {...}}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

import core._torchvision_compat  # noqa: F401  (smp imports timm, which imports torchvision)
from core.classify.models import InstanceStandardize
from core.errors import ModelError
from core.store.files import write_atomic

__all__ = ["DEFAULT_LUNG_MODEL", "FORMAT", "build_unet", "load_lung_model", "save_lung_model"]

FORMAT = "xray-lungs"
VERSION = 1
#: The shipped lung model.
DEFAULT_LUNG_MODEL = Path(__file__).resolve().parents[1] / "data" / "models" / "lungs.pt"
_DECODER = (128, 64, 32, 16, 8)


class LungNet(nn.Module):
    """Per-image standardisation, then the U-Net: ``(B, 1, S, S)`` in ``[0, 1]`` to lung logits of the same shape."""

    def __init__(self, unet: nn.Module) -> None:
        super().__init__()
        self.standardize = InstanceStandardize()
        self.unet = unet

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.unet(self.standardize(x))


def build_unet(*, pretrained: bool = False) -> LungNet:
    """The lung U-Net, randomly initialised or with the encoder's ImageNet weights (offline)."""
    import segmentation_models_pytorch as smp

    unet = smp.Unet("tu-tf_efficientnet_lite0", encoder_weights=None, in_channels=1, classes=1,
                    decoder_channels=_DECODER)  # fmt: skip
    if pretrained:
        from core.classify.efficientnet import imagenet_lite0

        imagenet = imagenet_lite0().state_dict()
        imagenet["conv_stem.weight"] = imagenet["conv_stem.weight"].sum(dim=1, keepdim=True)  # grey: R = G = B
        encoder = unet.encoder.model
        wanted = set(encoder.state_dict())
        missing = wanted - set(imagenet)
        if missing:
            raise ModelError(f"The ImageNet weights do not fit the U-Net's encoder (missing {sorted(missing)[:3]}).")
        encoder.load_state_dict({k: v for k, v in imagenet.items() if k in wanted}, strict=True)
    return LungNet(unet)


def save_lung_model(path: str | Path, *, model: nn.Module, meta: dict[str, Any], half: bool = False) -> Path:
    """Write a lung checkpoint atomically (float16 weights with ``half``)."""
    state = {k: (v.detach().half() if half and v.is_floating_point() else v.detach()).cpu().clone()
             for k, v in model.state_dict().items()}  # fmt: skip
    payload = {"format": FORMAT, "version": VERSION, "meta": dict(meta), "state_dict": state}
    return write_atomic(path, lambda handle: torch.save(payload, handle))


def load_lung_model(path: str | Path = DEFAULT_LUNG_MODEL) -> tuple[LungNet, dict[str, Any]]:
    """A lung checkpoint's network (evaluation mode, float32) and metadata.

    Raises
    ------
    ModelError
        A missing or foreign file, or weights that do not fit.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"No lung model at '{path}'. Train one: python -m core train-lungs --help.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a file that is not a checkpoint
        raise ModelError(f"'{path.name}' is not a readable lung model ({type(error).__name__}).") from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("version") != VERSION:
        raise ModelError(f"'{path.name}' is not a version {VERSION} lung model of this application.")
    model = build_unet()
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    except RuntimeError as error:
        raise ModelError(f"The weights in '{path.name}' do not fit this code's lung U-Net.") from error
    # channels-last weights: the layout CPU convolutions run fastest in (34 ms instead of 47 at 256 px, 2 threads)
    return model.to(memory_format=torch.channels_last).eval(), payload["meta"]
