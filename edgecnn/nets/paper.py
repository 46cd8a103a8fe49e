"""The dual-input-output CNN of Isong, "Building Efficient Lightweight CNN Models" (arXiv 2501.15547).

Stage 1 trains two identical branches side by side. Stage 2 feeds one input to
both trained convolutional stacks, turns each branch's Dense output layer into a
convolution over its whole final feature map, and adds a small head:

    branch:  Conv 3x3 (10) ReLU, MaxPool 2, Conv 3x3 (20) ReLU, MaxPool 2, Flatten, Dense (10)
    unified: both stacks -> Conv k x k (10) ReLU each -> concat (20) -> Dense (32) ReLU
             -> Dropout 0.5 -> Dense (10)

That is 14,862 parameters for 1x28x28 inputs and 19,622 for 3x32x32.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from edgecnn.nets import Preset

CONV1_FILTERS = 10
CONV2_FILTERS = 20
HEAD_UNITS = 32
DROPOUT = 0.5


def feature_map_size(image_size: int) -> int:
    """Side of the final feature map: two valid 3x3 convolutions, each followed by 2x2 max pooling."""
    return ((image_size - 2) // 2 - 2) // 2


def he_normal_(module: nn.Module) -> None:
    """Initialise weights as Keras' he_normal does (a normal truncated at two standard deviations), biases at zero."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            fan_in = layer.weight[0].numel()
            # Keras divides by 0.8796..., the std of a unit normal truncated at +-2, to keep variance 2/fan_in.
            std = math.sqrt(2.0 / fan_in) / 0.87962566103423978
            nn.init.trunc_normal_(layer.weight, mean=0.0, std=std, a=-2 * std, b=2 * std)
            nn.init.zeros_(layer.bias)


class Branch(nn.Module):
    """One stage-1 branch: two convolution blocks and a Dense output layer."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, CONV1_FILTERS, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(CONV1_FILTERS, CONV2_FILTERS, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.map_size = feature_map_size(image_size)
        self.classifier = nn.Linear(CONV2_FILTERS * self.map_size**2, num_classes)
        he_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def dense_to_conv(dense: nn.Linear, channels: int, map_size: int) -> nn.Conv2d:
    """Turn a Dense layer over a flattened (C, k, k) map into the equivalent k x k convolution.

    PyTorch flattens in (C, H, W) order, so the Dense weight of shape (out, C*k*k)
    reshapes directly into a convolution kernel of shape (out, C, k, k).
    """
    conv = nn.Conv2d(channels, dense.out_features, map_size)
    with torch.no_grad():
        conv.weight.copy_(dense.weight.reshape(dense.out_features, channels, map_size, map_size))
        conv.bias.copy_(dense.bias)
    return conv


class UnifiedNet(nn.Module):
    """The stage-2 model: one input, both trained convolutional stacks, and a new head."""

    def __init__(self, branch_a: Branch, branch_b: Branch, num_classes: int = 10):
        super().__init__()
        self.features_a = copy.deepcopy(branch_a.features)
        self.features_b = copy.deepcopy(branch_b.features)
        self.conv_head_a = dense_to_conv(branch_a.classifier, CONV2_FILTERS, branch_a.map_size)
        self.conv_head_b = dense_to_conv(branch_b.classifier, CONV2_FILTERS, branch_b.map_size)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * branch_a.classifier.out_features, HEAD_UNITS),
            nn.ReLU(),
            nn.Dropout(DROPOUT),
            nn.Linear(HEAD_UNITS, num_classes),
        )
        he_normal_(self.head)

    def transferred_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return both transferred heads' outputs before their ReLU, each (N, classes)."""
        a = self.conv_head_a(self.features_a(x)).flatten(1)
        b = self.conv_head_b(self.features_b(x)).flatten(1)
        return a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.transferred_logits(x)
        return self.head(torch.cat([torch.relu(a), torch.relu(b)], dim=1))

    def layer_groups(self) -> dict[str, list[nn.Module]]:
        """Parameter groups for progressive unfreezing, from the newest layers to the first."""
        return {
            "head": [self.head],
            "conv_heads": [self.conv_head_a, self.conv_head_b],
            "conv2": [self.features_a[3], self.features_b[3]],
            "conv1": [self.features_a[0], self.features_b[0]],
        }


PRESET = Preset(
    name="paper",
    make_branch=Branch,
    make_unified=UnifiedNet,
    scale=1 / 255,
    mean=(0.0,),
    std=(1.0,),
)
