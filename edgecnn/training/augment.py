"""Batch augmentation on tensors: random rotation, zoom, translation and brightness.

One affine warp per image with bilinear sampling matches what Keras' RandomRotation,
RandomZoom and RandomTranslation layers do in sequence, at a fraction of the cost.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from edgecnn.training.config import AugmentConfig

# grid_sample's names for the Keras fill modes. Keras "reflect" mirrors about the image
# edge (d c b a | a b c d), which is grid_sample's "reflection" with align_corners=False.
PADDING_MODES = {"reflect": "reflection", "zeros": "zeros", "border": "border"}


def random_affine(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Warp each image of a (N, C, H, W) float batch in [0, 1] by its own random affine transform."""
    n = images.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(config.rotation_deg))
    scale = 1 + uniform(config.zoom)  # >1 samples a larger area, so the content shrinks (zoom out)
    shift_x = uniform(config.translate) * 2  # grid coordinates span [-1, 1], so a fraction f is 2f
    shift_y = uniform(config.translate) * 2

    # theta maps output grid coordinates to the input coordinates sampled there.
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack(
        [torch.stack([cos, -sin, -shift_x], dim=1), torch.stack([sin, cos, -shift_y], dim=1)], dim=1
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode=PADDING_MODES[config.fill],
                           align_corners=False)

    if config.brightness > 0:
        delta = uniform(config.brightness).to(images.dtype).view(n, 1, 1, 1)
        warped = (warped + delta).clamp(0.0, 1.0)
    return warped
