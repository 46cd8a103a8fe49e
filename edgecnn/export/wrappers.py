"""Torch modules wrapped around the trained model before conversion (need torch)."""

from __future__ import annotations

import torch
from torch import nn


class RawPixelInput(nn.Module):
    """Takes raw uint8 pixels (0..255) and applies the model's normalization inside the graph.

    x = (p * scale - mean[c]) / std[c] is folded into one multiply and one subtract per
    channel, x = p * (scale / std[c]) - mean[c] / std[c]; the subtract is left out when
    every mean is zero.
    """

    def __init__(self, model: nn.Module, scale: float, mean: list[float], std: list[float]):
        super().__init__()
        self.model = model
        channels = len(std)
        multiplier = torch.tensor([scale / s for s in std], dtype=torch.float32).reshape(1, channels, 1, 1)
        offset = torch.tensor([m / s for m, s in zip(mean, std)], dtype=torch.float32).reshape(1, channels, 1, 1)
        self.register_buffer("multiplier", multiplier)
        self.register_buffer("offset", offset if bool(offset.any()) else None)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels.to(torch.float32) * self.multiplier
        if self.offset is not None:
            x = x - self.offset
        return self.model(x)


def export_module(trained, uint8_input: bool) -> nn.Module:
    """Return the module to convert: the trained model, or it behind RawPixelInput, in eval mode."""
    model = trained.model.eval()
    if not uint8_input:
        return model
    norm = trained.normalization
    channels = trained.in_channels
    mean = list(norm["mean"]) * (channels if len(norm["mean"]) == 1 else 1)
    std = list(norm["std"]) * (channels if len(norm["std"]) == 1 else 1)
    return RawPixelInput(model, norm["scale"], mean, std).eval()
