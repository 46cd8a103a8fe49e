"""Batch augmentation on tensors: random rotation, zoom, translation, brightness, crops and flips.

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
# F.pad's names for the same fill modes, used by random_crop.
PAD_MODES = {"reflect": "reflect", "zeros": "constant", "border": "replicate"}


def augment_batch(images: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Apply every change the configuration turns on to a (N, C, H, W) float batch in [0, 1].

    The affine warp (with brightness) runs first, then the crop, then the flip. A change
    that is off draws no random numbers, so turning on crops leaves the warp's draws as they were.
    """
    if config.rotation_deg > 0 or config.zoom > 0 or config.translate > 0 or config.brightness > 0:
        images = random_affine(images, config, generator)
    if config.crop_padding_px > 0:
        images = random_crop(images, config.crop_padding_px, config.fill, generator)
    if config.hflip:
        images = random_hflip(images, generator)
    return images


def random_crop(images: torch.Tensor, padding: int, fill: str, generator: torch.Generator) -> torch.Tensor:
    """Pad a (N, C, H, W) batch by `padding` pixels per side, then cut a random H x W window from each image."""
    n, _, height, width = images.shape
    padded = F.pad(images, (padding,) * 4, mode=PAD_MODES[fill])
    top = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    left = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    rows = (top[:, None] + torch.arange(height))[:, None, :, None]  # (N, 1, H, 1)
    cols = (left[:, None] + torch.arange(width))[:, None, None, :]  # (N, 1, 1, W)
    batch = torch.arange(n)[:, None, None, None]
    channels = torch.arange(images.shape[1])[None, :, None, None]
    return padded[batch, channels, rows, cols]


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image of a (N, C, H, W) batch left to right with probability 1/2."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(3), images)


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
