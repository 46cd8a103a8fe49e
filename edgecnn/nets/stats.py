"""Parameter and multiply-accumulate counts of a network."""

from __future__ import annotations

import torch
from torch import nn


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Count multiply-accumulates of one forward pass on one input of shape (C, H, W).

    Only convolutions and Dense layers are counted; activations and pooling are ignored,
    as is usual for MAC figures.
    """
    total = 0

    def on_conv(layer: nn.Conv2d, _inputs, output):
        nonlocal total
        kernel_macs = layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        total += output.numel() * kernel_macs

    def on_linear(layer: nn.Linear, _inputs, output):
        nonlocal total
        total += output.numel() * layer.in_features

    hooks = []
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d):
            hooks.append(layer.register_forward_hook(on_conv))
        elif isinstance(layer, nn.Linear):
            hooks.append(layer.register_forward_hook(on_linear))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return total
