"""Pieces shared by both training stages: batches, evaluation, early stopping and progress reporting."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import torch
from torch import nn

from edgecnn.nets import Preset

EVAL_BATCH_SIZE = 1000


class Progress(Protocol):
    """Receives progress events; the CLI draws them as a progress bar."""

    def epoch_started(self, description: str, total_batches: int) -> None: ...

    def batch_finished(self) -> None: ...

    def epoch_finished(self) -> None: ...


class NoProgress:
    def epoch_started(self, description: str, total_batches: int) -> None:
        pass

    def batch_finished(self) -> None:
        pass

    def epoch_finished(self) -> None:
        pass


@dataclass
class SplitTensors:
    """One split as uint8 NHWC images and int64 labels, ready to be batched."""

    images: torch.Tensor
    labels: torch.Tensor

    @classmethod
    def from_numpy(cls, images: np.ndarray, labels: np.ndarray) -> "SplitTensors":
        # A copy, because arrays read straight from a file buffer are read-only.
        return cls(torch.from_numpy(np.array(images)), torch.from_numpy(np.array(labels)))

    def __len__(self) -> int:
        return len(self.labels)


class InputPipeline:
    """Turns uint8 NHWC batches into normalized float NCHW model inputs."""

    def __init__(self, preset: Preset, channels: int, channels_last: bool):
        mean = torch.tensor(preset.mean * (channels // len(preset.mean)), dtype=torch.float32)
        std = torch.tensor(preset.std * (channels // len(preset.std)), dtype=torch.float32)
        self.scale = preset.scale
        self.mean = mean.view(1, -1, 1, 1)
        self.std = std.view(1, -1, 1, 1)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def to_unit_range(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, C) to float (N, C, H, W) in [0, 1], the range augmentation works in."""
        return images.permute(0, 3, 1, 2).float().div_(255.0)

    def normalize(self, unit_images: torch.Tensor) -> torch.Tensor:
        """Apply the preset's normalization to [0, 1] images: x = (p * scale - mean) / std with p = 255 * u."""
        x = (unit_images * (255.0 * self.scale) - self.mean) / self.std
        return x.contiguous(memory_format=self.memory_format)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.to_unit_range(images))


def batches(count: int, batch_size: int, generator: torch.Generator | None):
    """Yield index tensors covering range(count), shuffled when a generator is given."""
    order = torch.randperm(count, generator=generator) if generator is not None else torch.arange(count)
    for start in range(0, count, batch_size):
        yield order[start : start + batch_size]


@torch.no_grad()
def evaluate(model: Callable, split: SplitTensors, pipeline: InputPipeline) -> tuple[float, float]:
    """Return (mean cross-entropy, accuracy as a fraction) of model on a split."""
    if isinstance(model, nn.Module):
        model.eval()
    total_loss, correct = 0.0, 0
    for index in batches(len(split), EVAL_BATCH_SIZE, None):
        logits = model(pipeline(split.images[index]))
        labels = split.labels[index]
        total_loss += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(1) == labels).sum().item()
    return total_loss / len(split), correct / len(split)


@torch.no_grad()
def predict_logits(model: nn.Module, split: SplitTensors, pipeline: InputPipeline) -> np.ndarray:
    model.eval()
    return torch.cat([model(pipeline(split.images[i])) for i in batches(len(split), EVAL_BATCH_SIZE, None)]).numpy()


@dataclass
class BestTracker:
    """Early-stopping bookkeeping for one monitored validation accuracy."""

    min_delta: float = 0.0
    best_accuracy: float = -1.0
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    best_state: dict | None = field(default=None, repr=False)

    def update(self, accuracy: float, epoch: int, module: nn.Module) -> bool:
        """Record an epoch's accuracy; keep a copy of the weights if it improved by more than min_delta."""
        if accuracy > self.best_accuracy + self.min_delta or self.best_state is None:
            self.best_accuracy = accuracy
            self.best_epoch = epoch
            self.epochs_without_improvement = 0
            self.best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            return True
        self.epochs_without_improvement += 1
        return False

    def state_dict(self) -> dict:
        return {"min_delta": self.min_delta, "best_accuracy": self.best_accuracy, "best_epoch": self.best_epoch,
                "epochs_without_improvement": self.epochs_without_improvement, "best_state": self.best_state}

    @classmethod
    def from_state_dict(cls, state: dict) -> "BestTracker":
        return cls(**state)


def learning_rate_at(schedule: str, peak: float, step: int, total_steps: int, warmup_fraction: float) -> float:
    """Return the learning rate of batch `step` (0-based) out of `total_steps` under a schedule.

    constant: peak throughout. cosine: from peak down to 0 along a half cosine.
    onecycle: a linear rise from peak / 25 to peak over the first warmup_fraction of the
    batches, then a half cosine down to 0, as torch's OneCycleLR with its default
    div_factor of 25. It is a pure function of the batch index, so a resumed run needs no
    scheduler state.
    """
    if schedule == "constant":
        return peak
    progress = step / max(1, total_steps - 1)
    if schedule == "cosine":
        return 0.5 * peak * (1 + math.cos(math.pi * progress))
    if progress < warmup_fraction:
        start = peak / 25
        return start + (peak - start) * progress / warmup_fraction
    return 0.5 * peak * (1 + math.cos(math.pi * (progress - warmup_fraction) / (1 - warmup_fraction)))


def set_learning_rate(optimizer: torch.optim.Optimizer, learning_rate: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = learning_rate


def epoch_seed(seed: int, *parts: int) -> int:
    """Derive the seed of one epoch from the run seed, so a resumed run draws the same numbers."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


class Timer:
    def __init__(self):
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start
