"""Classifying image files with an exported artifact, using only numpy, Pillow and the artifact's runtime.

Each image goes through exactly the steps that the artifact's metadata record describes.
It is decoded, converted to the model's channel count and resized bilinearly to its input
size. Then it is scaled, normalized, transposed to the model's layout and, for int8 inputs,
quantized. The raw output is dequantized and turned into probabilities by a softmax.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn.artifacts import read_record
from edgecnn.data.folder import IMAGE_SUFFIXES, decode_image, list_images
from edgecnn.errors import DataError
from edgecnn.runtimes import open_session

log = logging.getLogger(__name__)

BATCH_SIZE = 64  # images per runtime call


@dataclass
class ClassScore:
    index: int
    name: str
    probability: float  # softmax of the dequantized logits, 0..1


@dataclass
class Prediction:
    path: str
    top: list[ClassScore]  # most probable first

    def to_dict(self) -> dict:
        return {"path": self.path, "top": [vars(score) for score in self.top]}


def collect_images(paths: list[Path]) -> list[Path]:
    """Expand folders into the PNG and JPEG files directly inside them; a missing path is a DataError."""
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise DataError(f"{path}: no PNG or JPEG files in this folder; pass image files, or a folder "
                                "that contains some")
            images.extend(found)
        elif path.is_file():
            images.append(path)
        else:
            raise DataError(f"image {path} not found; check the path")
    unknown = [path for path in images if path.suffix.lower() not in IMAGE_SUFFIXES]
    if unknown:
        log.debug("reading %d file(s) without a PNG or JPEG suffix, e.g. %s", len(unknown), unknown[0])
    return images


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


# Data sets whose images show a light object on a black background.
DARK_BACKGROUND_DATASETS = ("mnist", "fashion-mnist")


def predict_files(artifact: Path, image_paths: list[Path], top_k: int = 3, runtime: str = "auto",
                  threads: int = 1, invert: bool = False) -> list[Prediction]:
    """Classify image files with an artifact and return the top_k classes of each.

    With INVERT each pixel value v becomes 255 - v first, for a dark object on a light background.
    """
    if top_k < 1:
        raise DataError(f"invalid top-k {top_k}; use 1 or more")
    metadata = read_record(artifact).metadata
    session = open_session(artifact, runtime, threads)
    images = np.stack([decode_image(path, metadata.image_size_hw, metadata.channels) for path in image_paths])
    if invert:
        images = 255 - images
    elif metadata.dataset in DARK_BACKGROUND_DATASETS:
        _warn_light_backgrounds(image_paths, images, metadata.dataset)
    probabilities = predict_probabilities(session, metadata, images)

    top_k = min(top_k, probabilities.shape[1])
    predictions = []
    for path, row in zip(image_paths, probabilities):
        order = np.argsort(-row, kind="stable")[:top_k]
        top = [ClassScore(int(i), metadata.classes[i], float(row[i])) for i in order]
        predictions.append(Prediction(str(path), top))
    return predictions


def _warn_light_backgrounds(image_paths: list[Path], images: np.ndarray, dataset: str) -> None:
    """Log a warning for each image whose border is mostly light, which the model never saw in training."""
    border = np.concatenate([images[:, 0], images[:, -1], images[:, :, 0], images[:, :, -1]], axis=1)
    for path, mean in zip(image_paths, border.reshape(len(images), -1).mean(axis=1)):
        if mean > 127:
            log.warning("%s has a light background, but the %s model was trained on light objects on black; "
                        "pass --invert if the object is dark", path, dataset)


def predict_probabilities(session, metadata, images: np.ndarray) -> np.ndarray:
    """Return the class probabilities of raw (N, H, W, C) uint8 images, BATCH_SIZE images per call."""
    parts = []
    for start in range(0, len(images), BATCH_SIZE):
        outputs = session.run(metadata.preprocess(images[start:start + BATCH_SIZE]))
        parts.append(softmax(metadata.dequantize_output(outputs)))
    return np.concatenate(parts)
