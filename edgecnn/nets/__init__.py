"""Network architectures, by preset name.

A preset provides two builders that the training stages rely on:

- ``make_branch(in_channels, image_size, num_classes)`` returns a single-input
  classifier with a ``features`` module (the convolutional stack) and a
  ``classifier`` module (its output layer);
- ``make_unified(branch_a, branch_b, num_classes)`` returns the single-input
  stage-2 model built from two trained branches, whose ``layer_groups()`` names
  the parameter groups that progressive unfreezing trains step by step.

LAYER_GROUPS lists those group names per preset without importing torch, so that a
training configuration can be checked before any network is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from edgecnn.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    """An architecture family and the input normalization it was trained with."""

    name: str
    make_branch: Callable
    make_unified: Callable
    # A raw pixel p in 0..255 becomes the model input (p * scale - mean[c]) / std[c].
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]


def get_preset(name: str) -> Preset:
    """Return the preset with this name."""
    from edgecnn.nets import edge, paper

    presets = {"paper": paper.PRESET, "edge": edge.PRESET}
    if name not in presets:
        raise ConfigError(f"unknown preset '{name}'; choose one of: {', '.join(sorted(presets))}")
    return presets[name]


# Unfreezing groups of each preset's unified model, from the newest layers to the first.
LAYER_GROUPS: dict[str, tuple[str, ...]] = {
    "paper": ("head", "conv_heads", "conv2", "conv1"),
    "edge": ("head", "classifiers", "late_blocks", "early_blocks"),
}

PRESET_NAMES = tuple(LAYER_GROUPS)
