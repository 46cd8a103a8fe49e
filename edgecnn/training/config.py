"""Training configuration: one dataclass per stage, each field with its unit or allowed values.

These dataclasses are the only place defaults live. The CLI maps its options onto
these fields, and every run directory stores the resolved configuration as JSON.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any

from edgecnn.errors import ConfigError


@dataclass
class AugmentConfig:
    """Random geometric and photometric changes applied to the second branch's copy of each batch."""

    rotation_deg: float = 36.0  # maximum rotation either way, in degrees (a tenth of a turn)
    zoom: float = 0.2  # maximum zoom in or out, as a fraction of the image size
    translate: float = 0.2  # maximum shift, as a fraction of height and of width
    brightness: float = 0.0  # maximum brightness change, as a fraction of the [0, 1] range; 0 is off
    fill: str = "reflect"  # how pixels from outside the image are filled: reflect, zeros or border


@dataclass
class Stage1Config:
    """Stage 1: both branches trained together, one on original and one on augmented images."""

    max_epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3  # Nadam
    epsilon: float = 1e-7  # Nadam epsilon, as Keras sets it
    patience_epochs: int = 5  # stop when neither branch improved for this many epochs
    min_delta: float = 0.001  # smallest validation-accuracy gain that counts as an improvement (fraction)
    min_epochs: int = 3  # never stop before this epoch


@dataclass
class UnfreezeStep:
    """One step of progressive unfreezing: which layer groups train, for how long and how."""

    name: str
    trainable: list[str]  # layer groups that train in this step; the others are frozen
    epochs: int  # number of epochs, or the maximum when patience_epochs is set
    optimizer: str = "nadam"  # nadam or sgd
    learning_rate: float = 1e-3
    momentum: float = 0.9  # sgd only
    nesterov: bool = True  # sgd only
    weight_decay: float = 0.0
    patience_epochs: int | None = None  # early stopping on validation accuracy, restoring the best epoch


def paper_unfreeze_schedule() -> list[UnfreezeStep]:
    """Build the default schedule: the new head, then the transferred layers from the last to the first, then all."""
    groups = ["head", "conv_heads", "conv2", "conv1"]
    steps = [UnfreezeStep("head", ["head"], epochs=2, learning_rate=1e-3)]
    for number, group in enumerate(groups[1:], start=2):
        # Each step trains the groups unfrozen so far at the base learning rate divided by the step number.
        steps.append(UnfreezeStep(f"unfreeze-{group}", groups[:number], epochs=1, learning_rate=1e-3 / number))
    steps.append(
        UnfreezeStep("fine-tune", groups, epochs=50, optimizer="sgd", learning_rate=1e-3, momentum=0.9,
                     nesterov=True, weight_decay=1e-4, patience_epochs=10)
    )
    return steps


@dataclass
class Stage2Config:
    """Stage 2: the unified model, trained by progressive unfreezing."""

    batch_size: int = 32
    schedule: list[UnfreezeStep] = field(default_factory=paper_unfreeze_schedule)


def default_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass
class TrainConfig:
    """Everything that determines a training run."""

    dataset: str = "mnist"  # mnist, fashion-mnist, cifar10 or folder
    preset: str = "paper"
    data_dir: str | None = None  # None: EDGECNN_DATA_DIR, else the per-user cache
    allow_download: bool = True
    image_size: int = 28  # input side in pixels for the folder data set; fixed by the others
    channels: int = 1  # input channels for the folder data set; fixed by the others
    validation_size: int = 10_000  # the first images of the training set, held out for validation
    train_limit: int | None = None  # use only this many training images (after the validation split)
    test_limit: int | None = None  # evaluate on only the first test images
    seed: int = 0
    threads: int = field(default_factory=default_threads)  # torch intra-op threads
    channels_last: bool = True  # NHWC memory format, about 2x faster per epoch on x86_64 CPUs
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    stage1: Stage1Config = field(default_factory=Stage1Config)
    stage2: Stage2Config = field(default_factory=Stage2Config)

    def validate(self) -> None:
        from edgecnn.data import DATASET_IDS
        from edgecnn.nets import PRESET_NAMES

        if self.dataset not in DATASET_IDS:
            raise ConfigError(f"invalid dataset '{self.dataset}'; choose one of: {', '.join(DATASET_IDS)}")
        if self.preset not in PRESET_NAMES:
            raise ConfigError(f"invalid preset '{self.preset}'; choose one of: {', '.join(PRESET_NAMES)}")
        if self.threads < 1:
            raise ConfigError(f"invalid threads {self.threads}; use 1 or more")
        if self.validation_size < 1:
            raise ConfigError(f"invalid validation size {self.validation_size}; use 1 or more images")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"invalid {name.replace('_', ' ')} {value}; use 1 or more images, or leave it unset")
        if self.augment.fill not in ("reflect", "zeros", "border"):
            raise ConfigError(f"invalid fill '{self.augment.fill}'; choose reflect, zeros or border")
        known_groups = {"head", "conv_heads", "conv2", "conv1"}
        for step in self.stage2.schedule:
            if step.optimizer not in ("nadam", "sgd"):
                raise ConfigError(f"invalid optimizer '{step.optimizer}' in step '{step.name}'; choose nadam or sgd")
            unknown = set(step.trainable) - known_groups
            if unknown:
                raise ConfigError(f"unknown layer group(s) {sorted(unknown)} in step '{step.name}'; "
                                  f"choose from {sorted(known_groups)}")
            if step.epochs < 1:
                raise ConfigError(f"invalid epochs {step.epochs} in step '{step.name}'; use 1 or more")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        """Rebuild a configuration saved by to_dict, rejecting unknown keys."""
        values = dict(values)
        try:
            augment = AugmentConfig(**values.pop("augment", {}))
            stage1 = Stage1Config(**values.pop("stage1", {}))
            stage2_values = dict(values.pop("stage2", {}))
            if "schedule" in stage2_values:
                stage2_values["schedule"] = [UnfreezeStep(**step) for step in stage2_values["schedule"]]
            stage2 = Stage2Config(**stage2_values)
            return cls(augment=augment, stage1=stage1, stage2=stage2, **values)
        except TypeError as error:
            raise ConfigError(f"invalid training configuration: {error}") from None
