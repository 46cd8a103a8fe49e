"""The `edge` preset: the dual-branch method of the `paper` preset, built from modern tiny-CNN parts.

Each branch is a 3x3 stem convolution followed by three depthwise-separable blocks,
every convolution followed by batch norm and ReLU, then global average pooling and a
Dense output layer:

    branch:  Conv 3x3 (w0) BN ReLU,
             DS (w1) MaxPool 2, DS (w2) MaxPool 2, DS (w3), GlobalAvgPool, Dense (classes)
             where DS (w) = depthwise Conv 3x3 BN ReLU, pointwise Conv 1x1 (w) BN ReLU
    unified: both branches, unchanged -> concat of both logits (2 x classes) -> Dense (classes)

The unified head starts as the average of both branches' logits, so stage 2 begins from
the ensemble of the two trained branches. Batch norm is folded into the convolutions
before export (edgecnn.export.fold), so deployed artifacts contain none.

Parameters of the whole unified model: 14,790 for 1x28x28 inputs and 19,110 for
3x32x32, within the 14,862 and 19,622 of the `paper` preset (edgecnn.nets.paper).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from edgecnn.nets import Preset

# Channel widths (stem, block 1, block 2, block 3) by input channels, sized so that two
# branches and the head stay within the `paper` preset's parameter count for that input.
WIDTHS = {1: (16, 32, 48, 64), 3: (20, 40, 56, 64)}


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int, groups: int = 1) -> nn.Sequential:
    # No convolution bias: the batch norm that follows has its own shift.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def separable_block(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1 convolution, each with batch norm and ReLU, then optional 2x2 max pooling."""
    layers = [conv_bn_relu(in_channels, in_channels, 3, groups=in_channels),
              conv_bn_relu(in_channels, out_channels, 1)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class Branch(nn.Module):
    """One stage-1 branch: stem, three depthwise-separable blocks, global average pooling and a Dense output."""

    def __init__(self, in_channels: int = 1, image_size: int = 28, num_classes: int = 10,
                 widths: tuple[int, int, int, int] | None = None):
        super().__init__()
        # Other widths than the preset's serve experiments; checkpoints always hold the preset's.
        stem, width1, width2, width3 = widths or WIDTHS.get(in_channels, WIDTHS[3])
        # image_size is free: global average pooling makes the output independent of the input side.
        self.features = nn.Sequential(
            conv_bn_relu(in_channels, stem, 3),
            separable_block(stem, width1, pool=True),
            separable_block(width1, width2, pool=True),
            separable_block(width2, width3, pool=False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(width3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class UnifiedNet(nn.Module):
    """The stage-2 model: one input through both trained branches, and a Dense head over their logits."""

    def __init__(self, branch_a: Branch, branch_b: Branch, num_classes: int = 10):
        super().__init__()
        self.features_a = copy.deepcopy(branch_a.features)
        self.features_b = copy.deepcopy(branch_b.features)
        self.classifier_a = copy.deepcopy(branch_a.classifier)
        self.classifier_b = copy.deepcopy(branch_b.classifier)
        self.head = nn.Linear(2 * num_classes, num_classes)
        # Start as the mean of both branches' logits: weight [I/2, I/2], bias 0.
        with torch.no_grad():
            half_identity = torch.eye(num_classes) / 2
            self.head.weight.copy_(torch.cat([half_identity, half_identity], dim=1))
            self.head.bias.zero_()

    def transferred_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return both transferred branches' logits, each (N, classes)."""
        return self.classifier_a(self.features_a(x)), self.classifier_b(self.features_b(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.transferred_logits(x)
        return self.head(torch.cat([a, b], dim=1))

    def layer_groups(self) -> dict[str, list[nn.Module]]:
        """Parameter groups for progressive unfreezing, from the newest layers to the first."""
        return {
            "head": [self.head],
            "classifiers": [self.classifier_a, self.classifier_b],
            "late_blocks": [self.features_a[2], self.features_a[3], self.features_b[2], self.features_b[3]],
            "early_blocks": [self.features_a[0], self.features_a[1], self.features_b[0], self.features_b[1]],
        }


PRESET = Preset(
    name="edge",
    make_branch=Branch,
    make_unified=UnifiedNet,
    # Per-channel standardization to about zero mean and unit variance suits batch-norm networks.
    scale=1 / 255,
    mean=(0.5,),
    std=(0.25,),
)
