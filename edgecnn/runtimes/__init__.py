"""One small interface over every inference runtime: load a model file, describe it, run a batch.

Export validation, ``bench``, ``predict`` and the aarch64 checks all go through
``open_session``; none of them talks to a runtime directly. Each backend imports its
runtime only when a session is opened, so importing this package needs none of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

RUNTIME_NAMES = ("onnxruntime", "litert", "tflite-runtime", "torch")


@dataclass
class TensorInfo:
    name: str
    shape: list[int | None]  # None for a dynamic dimension
    dtype: str  # numpy dtype name: float32, int8, uint8


@dataclass
class SessionInfo:
    runtime: str  # one of RUNTIME_NAMES
    runtime_version: str
    threads: int
    xnnpack: bool | None = None  # TFLite only: whether the XNNPACK delegate runs the graph
    extra: dict = field(default_factory=dict)


class Session(Protocol):
    """A loaded model in one runtime."""

    path: Path
    info: SessionInfo
    input: TensorInfo
    output: TensorInfo

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run one batch (already preprocessed to the input's dtype and layout) and return the raw output."""
        ...
