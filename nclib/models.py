"""The networks of Sec. 5 and App. E: ResNet18 (App. E.2) and the layer-wise MLP (App. E.1).

Both expose ``model.fc`` (the last layer; its weight is W, K x d, for NC3) and
``model.features(x)`` -> dict of feature tensors, from one forward pass.
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet

from nclib._checks import check_int

__all__ = ["ResNet18", "resnet18", "LayerwiseMLP", "MLPHead"]


class ResNet18(tv_resnet.ResNet):
    """torchvision's ResNet18 with a small-image stem and a width option; see :func:`resnet18`."""

    def __init__(self, num_classes: int, in_channels: int, fc_bias: bool, width: int):
        object.__setattr__(self, "_width", width)  # read by _make_layer during super().__init__
        super().__init__(tv_resnet.BasicBlock, [2, 2, 2, 2], num_classes=num_classes)
        # Small-image stem: 3x3 stride-1 conv, no max-pool (replaces 7x7 stride-2 + max-pool).
        self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.Identity()
        self.fc = nn.Linear(8 * width, num_classes, bias=fc_bias)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        # torchvision builds stages of 64, 128, 256, 512 channels after a 64-channel stem;
        # scale them by width / 64.
        if planes == 64:
            self.inplanes = self._width
        return super()._make_layer(block, planes * self._width // 64, blocks, stride, dilate)

    def _trunk(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        block3 = self.layer3(self.layer2(self.layer1(x)))
        return block3, self.layer4(block3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self._trunk(x)[1]), 1))

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"penultimate": (N, 8 width), "block3": (N, 4 width)}``: the global-average-pooled
        outputs of the 4th (the deepest features, fed to ``fc``) and 3rd residual stage."""
        block3, block4 = self._trunk(x)
        return {"penultimate": torch.flatten(self.avgpool(block4), 1),
                "block3": torch.flatten(self.avgpool(block3), 1)}


def resnet18(num_classes: int = 10, in_channels: int = 3, fc_bias: bool = True, width: int = 64) -> ResNet18:
    """ResNet18 (He et al., 2016) for 32 x 32 and 28 x 28 images, as in App. E.2.

    Built from ``torchvision.models.resnet`` (its blocks, stages and initialisation: Kaiming-normal
    convolutions, unit BatchNorm) with a small-image stem: a 3 x 3 stride-1 first convolution
    (PyTorch's default initialisation) and no max-pool, as in the CIFAR ResNets of the notebooks
    that accompany Papyan et al. (2020). (Zhu et al. (2021)'s code keeps torchvision's 7 x 7
    stride-2 stem and max-pool unless asked otherwise; on a 32 x 32 image that leaves 8 x 8 before
    the first block.) The paper does not say which stem it used. Stage resolutions: 32/16/8/4
    (28/14/7/4 for MNIST).

    ``width`` is the number of channels of the stem and first stage (64 in ResNet18); the stages
    have width, 2, 4, 8 x width channels, so the deepest features have d = 8 width (512) and the
    intermediate ones 4 width (256). ``fc_bias=False`` gives the bias-free last layer of the MSE
    experiments. ``model.fc`` is the last layer; ``model.features(x)`` returns both feature sets.
    """
    num_classes = check_int("num_classes", num_classes, 2)
    in_channels, width = check_int("in_channels", in_channels, 1), check_int("width", width, 1)
    return ResNet18(num_classes, in_channels, bool(fc_bias), width)


class LayerwiseMLP(nn.Module):
    """The MLP of App. E.1, trained one hidden layer at a time.

    Input images are flattened (3072 for CIFAR-10). Each hidden layer is
    Linear(width) -> BatchNorm1d -> ReLU (PyTorch's default initialisation); ``fc`` maps the
    deepest hidden layer to the K logits. :meth:`grow` freezes every existing hidden layer
    (no gradients; its BatchNorm stays in eval mode, so its running statistics stay fixed too) and
    inserts a fresh hidden layer before ``fc``, whose weights are kept. ``depth`` hidden layers at
    construction gives the state after ``depth - 1`` calls of :meth:`grow` (for resuming).
    """

    def __init__(self, in_features: int, num_classes: int, width: int = 3072, depth: int = 1,
                 fc_bias: bool = True):
        super().__init__()
        for name, value in (("in_features", in_features), ("num_classes", num_classes),
                            ("width", width), ("depth", depth)):
            check_int(name, value, 1)
        self.in_features, self.width = in_features, width
        self.hidden = nn.ModuleList()
        self.fc = nn.Linear(width, num_classes, bias=fc_bias)
        for _ in range(depth):
            self.grow()

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.hidden)

    def grow(self) -> "LayerwiseMLP":
        """Freeze the existing hidden layers and append a fresh one before ``fc``."""
        for layer in self.hidden:
            layer.requires_grad_(False)
            layer.eval()
        device = self.fc.weight.device
        fan_in = self.width if self.hidden else self.in_features
        self.hidden.append(nn.Sequential(nn.Linear(fan_in, self.width), nn.BatchNorm1d(self.width),
                                         nn.ReLU()).to(device))
        return self

    def train(self, mode: bool = True) -> "LayerwiseMLP":
        super().train(mode)
        for layer in self.hidden[:-1]:  # frozen layers never update their BatchNorm statistics
            layer.eval()
        return self

    @torch.no_grad()
    def frozen_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, fan-in of the newest layer): the output of the frozen layers (the flattened input if
        there are none). They are fixed functions (no gradients, BatchNorm in eval mode), so one
        pass over the training set per outer iteration serves all of its epochs."""
        h = torch.flatten(x, 1)
        for layer in self.hidden[:-1]:
            h = layer.eval()(h)
        return h

    def head(self) -> "MLPHead":
        """The trainable part, the newest hidden layer and ``fc`` (shared, not copied), as a module
        that maps :meth:`frozen_features` to logits."""
        return MLPHead(self.hidden[-1], self.fc)

    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{"penultimate": (N, width)}``: the deepest hidden layer's output."""
        h = torch.flatten(x, 1)
        for layer in self.hidden:
            h = layer(h)
        return {"penultimate": h}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x)["penultimate"])


class MLPHead(nn.Module):
    """The newest hidden layer of a :class:`LayerwiseMLP` followed by its ``fc`` (the modules are
    shared with the MLP): what one outer iteration of App. E.1 trains."""

    def __init__(self, layer: nn.Module, fc: nn.Linear):
        super().__init__()
        self.layer, self.fc = layer, fc

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.fc(self.layer(h))
