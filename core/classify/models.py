"""The classifier architectures: a compact CNN of our own, torchvision's ResNet and VGG16, and EfficientNet-Lite0.

Every model takes grey X-rays as ``(B, 1, S, S)`` tensors in ``[0, 1]`` (see :mod:`core.classify.transforms`) and
returns ``(B,)`` logits of PNEUMONIA. Its first layer standardises each image to zero mean and unit variance, so the
model carries its own normalisation and an image's global exposure (which differs between machines and sites) does
not reach the features.

ImageNet weights are an option (``pretrained=True``): EfficientNet-Lite0's are installed with the project and work
offline (:mod:`core.classify.efficientnet`); torchvision's are downloaded once into torch's cache where a network
exists, and without one :class:`~core.errors.ModelError` says so and how to place the file by hand.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import torch
import torchvision
from torch import nn

from core.errors import ModelError

__all__ = ["ARCHITECTURES", "Architecture", "Ensemble", "InstanceStandardize", "XRayNet", "build_model", "cam_layers"]


class InstanceStandardize(nn.Module):
    """Standardise each image of a batch to zero mean and unit variance.

    The standard deviation is floored at ``min_std`` (grey levels in ``[0, 1]``; real X-rays have about 0.2), so
    a (nearly) constant image stays (nearly) zero instead of having its rounding noise magnified.
    """

    def __init__(self, min_std: float = 1e-3) -> None:
        super().__init__()
        self.min_std = min_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True)
        return (x - mean) / std.clamp(min=self.min_std)


def _conv_bn_relu(in_channels: int, out_channels: int, *, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class XRayNet(nn.Module):
    """A compact VGG-style CNN sized for training from scratch on two CPU cores.

    A strided stem halves the resolution at once (most of a plain CNN's cost sits in its full-resolution layers),
    then four stages of 3×3 convolutions with batch normalisation, each followed by 2×2 max pooling, global average
    pooling, dropout and one linear unit. At 128×128 input: 1.2 M parameters, about 0.25 GMAC per image.

    Parameters
    ----------
    widths : tuple of int
        Channels of the four stages.
    stem : int
        Channels of the stem.
    dropout : float
        Before the final layer.
    """

    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 256), *, stem: int = 24, dropout: float = 0.3) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn_relu(1, stem, stride=2)]
        channels = stem
        for index, width in enumerate(widths):
            layers.append(_conv_bn_relu(channels, width))
            if index:  # the first stage has one convolution: at that resolution a second one costs the most
                layers.append(_conv_bn_relu(width, width))
            layers.append(nn.MaxPool2d(2))
            channels = width
        # The last ReLU before pooling is the natural Grad-CAM layer: `features[-2]` (index 10).
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, 1))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _Classifier(nn.Module):
    """Standardisation, a backbone giving ``(B, 1)``, and a squeeze to ``(B,)`` logits."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.standardize = InstanceStandardize()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.standardize(x)).squeeze(1)


class Ensemble(nn.Module):
    """Several classifiers of one architecture whose PNEUMONIA logits are averaged (a deep ensemble).

    Members trained alike from different random seeds make different mistakes; the mean of their logits is more
    accurate and stays better calibrated under a shift of the data than any one of them (Lakshminarayanan et al.
    2017; Ovadia et al. 2019). The ensemble is calibrated as one model: one temperature and one threshold fitted
    on its mean logit.
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(dim=0)


def _grey_first_conv(conv: nn.Conv2d) -> nn.Conv2d:
    """The same convolution on one input channel; pretrained RGB filters are summed (a grey image is R = G = B)."""
    grey = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)
    with torch.no_grad():
        grey.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        if conv.bias is not None:
            grey.bias.copy_(conv.bias)
    return grey


def _torchvision_model(name: str, pretrained: bool) -> nn.Module:
    """torchvision's ``name``, randomly initialised or with its default ImageNet weights."""
    if not pretrained:
        return torchvision.models.get_model(name, weights=None)
    weights = torchvision.models.get_model_weights(name).DEFAULT
    try:
        return torchvision.models.get_model(name, weights=weights)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as error:
        cache = torch.hub.get_dir() + "/checkpoints/"
        raise ModelError(
            f"The ImageNet weights of {name} could not be downloaded ({error}). Train from scratch (leave "
            f"'pretrained' off), or copy the file {weights.url.rsplit('/', 1)[-1]} into {cache} on this machine."
        ) from error


def _resnet(name: str, pretrained: bool) -> nn.Module:
    model = _torchvision_model(name, pretrained)
    model.conv1 = _grey_first_conv(model.conv1)
    model.fc = nn.Linear(model.fc.in_features, 1)
    return model


def _vgg16(pretrained: bool) -> nn.Module:
    # VGG16 with batch normalisation. torchvision's head (two 4096-wide layers on a 7×7 grid, 120 M parameters)
    # is replaced by global average pooling and one linear unit: the 13 convolutions are the architecture, and the
    # small head trains from scratch on 5 000 images without memorising them.
    model = _torchvision_model("vgg16_bn", pretrained)
    model.features[0] = _grey_first_conv(model.features[0])
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(512, 1))
    return model


@dataclass(frozen=True)
class Architecture:
    """One selectable architecture.

    Attributes
    ----------
    name : str
    description : str
    build : callable
        ``build(pretrained: bool) -> nn.Module`` giving ``(B, 1)`` outputs.
    cam_layer : str
        Dotted path (from the classifier's ``backbone``) of the layer Grad-CAM reads.
    has_pretrained : bool
        Whether ImageNet weights exist for it.
    """

    name: str
    description: str
    build: Callable[[bool], nn.Module]
    cam_layer: str
    has_pretrained: bool = True


def _efficientnet_lite0(pretrained: bool) -> nn.Module:
    from core.classify.efficientnet import efficientnet_lite0  # timm loads only for this architecture

    return efficientnet_lite0(pretrained)


def _no_pretrained(pretrained: bool) -> nn.Module:
    if pretrained:
        raise ModelError("xraynet is our own architecture and has no ImageNet weights; train it from scratch.")
    return XRayNet()


ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture("xraynet", "compact CNN (1.2 M parameters), the default", _no_pretrained, "features.10", False),
        Architecture(
            "resnet18",
            "ResNet-18 (11 M parameters)",
            partial(_resnet, "resnet18"),
            "layer4",
        ),
        Architecture(
            "resnet50",
            "ResNet-50 (24 M parameters)",
            partial(_resnet, "resnet50"),
            "layer4",
        ),
        Architecture("vgg16", "VGG-16 with batch normalisation (15 M parameters)", _vgg16, "features.42"),
        # Grad-CAM reads the head's batch norm and activation over the last 1×1 convolution (1280 channels).
        Architecture(
            "efficientnet_lite0",
            "EfficientNet-Lite0 (3.4 M parameters; ImageNet weights offline)",
            _efficientnet_lite0,
            "bn2",
        ),
    )
}


def build_model(arch: str, *, pretrained: bool = False, members: int = 1) -> nn.Module:
    """A classifier of the named architecture, randomly initialised (or from ImageNet weights).

    Parameters
    ----------
    arch : str
        A key of :data:`ARCHITECTURES`.
    pretrained : bool
        Start from ImageNet weights (offline for EfficientNet-Lite0; torchvision's need a network once).
    members : int
        Above 1: an :class:`Ensemble` of that many such classifiers.

    Returns
    -------
    nn.Module
        Maps ``(B, 1, S, S)`` in ``[0, 1]`` to ``(B,)`` PNEUMONIA logits; its backbone is ``model.backbone`` (each
        member's, for an ensemble).
    """
    if arch not in ARCHITECTURES:
        raise ModelError(f"Unknown architecture '{arch}'; choose one of {', '.join(ARCHITECTURES)}.")
    if members < 1:
        raise ModelError(f"An ensemble needs at least one member; got {members}.")
    if members > 1:
        return Ensemble([build_model(arch, pretrained=pretrained) for _ in range(members)])
    return _Classifier(ARCHITECTURES[arch].build(pretrained))


def cam_layers(model: nn.Module, arch: str) -> list[nn.Module]:
    """The layers a class activation map reads: the architecture's :attr:`Architecture.cam_layer`, per member.

    With several layers pytorch-grad-cam scales each layer's map to ``[0, 1]`` and averages them, so an
    ensemble's map weighs its members equally.
    """
    members = model.members if isinstance(model, Ensemble) else [model]
    return [dict(member.backbone.named_modules())[ARCHITECTURES[arch].cam_layer] for member in members]
