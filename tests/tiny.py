"""Training configurations small enough for tests, shared by several test modules."""

from __future__ import annotations

from pathlib import Path


def tiny_config(dataset: str, data_dir: Path, **overrides):
    """A training configuration that runs in seconds: small slices of real data, one epoch per step."""
    from edgecnn.training.config import TrainConfig

    config = TrainConfig(dataset=dataset, data_dir=str(data_dir), allow_download=False, validation_size=300,
                         train_limit=1200, test_limit=300, threads=1, seed=0)
    config.stage1.max_epochs = 2
    for step in config.stage2.schedule:
        step.epochs = 1
    for key, value in overrides.items():
        setattr(config, key, value)
    return config
