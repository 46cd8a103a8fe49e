"""The images an export uses: a seeded calibration set of training images, and the test images.

Calibration uses no test image, so the accuracy measured on the test set after
quantization stays an honest estimate.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgecnn.data import Dataset, load_dataset
from edgecnn.errors import DataError

log = logging.getLogger(__name__)


def _load_split(trained, split: str, data_dir: Path | None, allow_download: bool) -> Dataset:
    side = trained.image_size
    try:
        dataset = load_dataset(trained.dataset, split, data_dir, allow_download, image_size=(side, side),
                               channels=trained.in_channels)
    except DataError as error:
        purpose = "calibration" if split == "train" else "validation"
        raise DataError(f"{purpose} data not found: {error}") from None
    if dataset.images.shape[1:] != (side, side, trained.in_channels):
        raise DataError(f"{trained.dataset} {split} images have shape {dataset.images.shape[1:]}, but the "
                        f"model takes {(side, side, trained.in_channels)}; pass the data set it was trained on")
    return dataset


def load_calibration_images(trained, samples: int, seed: int, data_dir: Path | None,
                            allow_download: bool = True) -> np.ndarray:
    """Return `samples` training images (uint8, NHWC) chosen at random with `seed`, in a fixed order."""
    train_set = _load_split(trained, "train", data_dir, allow_download)
    count = min(samples, len(train_set))
    if count < samples:
        log.warning("only %d training images exist; calibrating on all of them instead of %d", count, samples)
    indices = np.sort(np.random.default_rng(seed).choice(len(train_set), size=count, replace=False))
    return train_set.images[indices]


def load_test_set(trained, limit: int | None, data_dir: Path | None, allow_download: bool = True) -> Dataset:
    """Return the first `limit` test images (all when None) with their labels."""
    test_set = _load_split(trained, "test", data_dir, allow_download)
    return test_set if limit is None else test_set.subset(slice(0, limit))
