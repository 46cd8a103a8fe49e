"""Validation of an exported artifact in its real runtime against the reference model, on real test images.

Every artifact is opened through ``edgecnn.runtimes.open_session`` and fed from its own
metadata record (``ArtifactMetadata.preprocess`` and ``dequantize_output``), so a
wrong record fails validation just as a wrong graph does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn.metadata import ArtifactMetadata

log = logging.getLogger(__name__)

BATCH_SIZE = 250  # test images per runtime call


@dataclass
class Validation:
    """Comparison of an artifact with the reference model on the same test images."""

    accuracy: float  # percent of test images classified correctly
    agreement: float  # percent of test images whose top-1 class matches the reference model's
    max_abs_diff: float | None  # largest absolute logit difference to the reference model; float artifacts only
    test_images: int
    runtime: str
    runtime_version: str


def reference_logits(model, images_nchw: np.ndarray) -> np.ndarray:
    """Run the torch reference model on float NCHW input, in batches, and return its logits."""
    import torch

    outputs = []
    with torch.no_grad():
        for start in range(0, len(images_nchw), BATCH_SIZE):
            outputs.append(model(torch.from_numpy(images_nchw[start:start + BATCH_SIZE])).numpy())
    return np.concatenate(outputs)


def percent(hits: np.ndarray) -> float:
    return round(100.0 * float(np.mean(hits)), 4)


def validate_artifact(path: Path, metadata: ArtifactMetadata, images: np.ndarray, labels: np.ndarray,
                      reference: np.ndarray, compare_logits: bool) -> Validation:
    """Run the artifact on raw uint8 NHWC `images` and compare it with the `reference` logits."""
    from edgecnn.runtimes import open_session

    session = open_session(path, runtime="auto", threads=1)
    batch = metadata.preprocess(images)
    outputs = [session.run(batch[start:start + BATCH_SIZE]) for start in range(0, len(batch), BATCH_SIZE)]
    logits = metadata.dequantize_output(np.concatenate(outputs))
    predicted = logits.argmax(axis=1)
    max_abs_diff = float(np.max(np.abs(logits - reference))) if compare_logits else None
    log.debug("%s: validated on %d test images in %s %s", path.name, len(labels), session.info.runtime,
              session.info.runtime_version)
    return Validation(accuracy=percent(predicted == labels), agreement=percent(predicted == reference.argmax(axis=1)),
                      max_abs_diff=max_abs_diff, test_images=len(labels), runtime=session.info.runtime,
                      runtime_version=session.info.runtime_version)
