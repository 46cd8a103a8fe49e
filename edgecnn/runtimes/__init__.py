"""One small interface over every inference runtime: load a model file, describe it, run a batch.

Export validation, ``bench``, ``predict`` and the aarch64 checks all go through
``open_session``; none of them talks to a runtime directly. Each backend imports its
runtime only when a session is opened, so importing this package needs none of them.

Backends, one module each:

- ``onnxruntime`` (extra ``onnx``) for ``.onnx`` files;
- ``litert``, the LiteRT interpreter of ``ai-edge-litert`` (extra ``litert``), for ``.tflite`` files;
- ``tflite-runtime``, the legacy interpreter (extra ``tflite``: Python <= 3.11, numpy < 2), for ``.tflite``;
- ``torch`` (extra ``train``) for training checkpoints (``.pt``), fed NCHW float input
  normalized with the checkpoint's normalization values.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from edgecnn.errors import EdgecnnError

RUNTIME_NAMES = ("onnxruntime", "litert", "tflite-runtime", "torch")
RUNTIME_CHOICES = ("auto", *RUNTIME_NAMES)

# Per runtime: the module to import, the extra that installs it and its distribution name.
RUNTIME_MODULES = {"onnxruntime": "onnxruntime", "litert": "ai_edge_litert", "tflite-runtime": "tflite_runtime",
                   "torch": "torch"}
RUNTIME_EXTRAS = {"onnxruntime": "onnx", "litert": "litert", "tflite-runtime": "tflite", "torch": "train"}
RUNTIME_DISTRIBUTIONS = {"onnxruntime": "onnxruntime", "litert": "ai-edge-litert",
                         "tflite-runtime": "tflite-runtime", "torch": "torch"}

# The runtimes that can load each file suffix, in the order `auto` tries them.
SUFFIX_RUNTIMES = {".onnx": ("onnxruntime",), ".tflite": ("litert", "tflite-runtime"), ".pt": ("torch",)}


class ModelFileError(EdgecnnError):
    """A model file is missing, not a model, or of a kind no runtime here can load."""


class InputShapeError(EdgecnnError):
    """A batch does not match the model's input shape or dtype."""


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


def runtime_installed(runtime: str) -> bool:
    """Check, without importing it, whether the runtime's Python package is installed."""
    return importlib.util.find_spec(RUNTIME_MODULES[runtime]) is not None


def runtime_version(runtime: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(RUNTIME_DISTRIBUTIONS[runtime])
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def check_model_file(path: Path) -> None:
    """Raise ModelFileError when PATH is not an existing file."""
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found; check the path, or run `edgecnn export` to write it")


def model_suffix(path: Path | str) -> str:
    """Return the lower-case suffix that decides the runtime, or raise ModelFileError if no runtime loads it."""
    suffix = Path(path).suffix.lower()
    if Path(path).is_dir():
        raise ModelFileError(f"{path} is a folder; pass the model files in it, e.g. {Path(path) / '*.onnx'} "
                             f"{Path(path) / '*.tflite'}")
    if suffix not in SUFFIX_RUNTIMES:
        raise ModelFileError(f"{path}: unsupported model file type '{suffix or '(none)'}'; "
                             f"pass an .onnx or .tflite artifact or a training checkpoint (.pt)")
    return suffix


def resolve_runtime(path: Path | str, runtime: str = "auto") -> str:
    """Pick the runtime for a model file: the requested one, or for `auto` the first installed one for its suffix.

    Raises MissingExtraError naming the extra when no suitable runtime is installed.
    """
    from edgecnn.errors import MissingExtraError

    if runtime not in RUNTIME_CHOICES:
        raise ModelFileError(f"unknown runtime '{runtime}'; choose one of: {', '.join(RUNTIME_CHOICES)}")
    candidates = SUFFIX_RUNTIMES[model_suffix(path)]
    if runtime != "auto":
        if runtime not in candidates:
            raise ModelFileError(f"{path}: runtime '{runtime}' cannot load '{Path(path).suffix}' files; "
                                 f"use {' or '.join(candidates)}")
        candidates = (runtime,)
    for candidate in candidates:
        if runtime_installed(candidate):
            return candidate
    first = candidates[0]
    raise MissingExtraError(RUNTIME_MODULES[first], RUNTIME_EXTRAS[first], f"running {Path(path).name}")


def open_session(path: Path | str, runtime: str = "auto", threads: int = 1) -> Session:
    """Load a model file in a runtime and return a session that runs batches of it.

    ``threads`` is the runtime's intra-op thread count, recorded in ``session.info``.
    """
    path = Path(path)
    if threads < 1:
        raise ModelFileError(f"invalid threads {threads}; use 1 or more")
    chosen = resolve_runtime(path, runtime)
    check_model_file(path)

    if chosen == "onnxruntime":
        from edgecnn.runtimes.onnx_session import OnnxSession as backend
    elif chosen == "litert":
        from edgecnn.runtimes.litert_session import LiteRTSession as backend
    elif chosen == "tflite-runtime":
        from edgecnn.runtimes.tflite_runtime_session import TFLiteRuntimeSession as backend
    else:
        from edgecnn.runtimes.torch_session import TorchSession as backend
    return backend(path, threads)


def check_batch(batch: np.ndarray, expected: TensorInfo, path: Path) -> None:
    """Raise InputShapeError unless a batch fits the input's dtype and every fixed non-batch dimension."""
    if batch.dtype != expected.dtype:
        raise InputShapeError(f"{path.name}: input '{expected.name}' takes {expected.dtype}, got {batch.dtype}; "
                              f"preprocess the images with the artifact's metadata record")
    fixed = expected.shape[1:]
    if batch.ndim != len(expected.shape) or any(want is not None and got != want
                                                for got, want in zip(batch.shape[1:], fixed)):
        shown = ["N" if dim is None else dim for dim in expected.shape]
        raise InputShapeError(f"{path.name}: input '{expected.name}' takes shape {shown}, got "
                              f"{list(batch.shape)}; resize or transpose the batch to fit")


class BatchChecker:
    """Checks batches against a TensorInfo, with a fast path for the common all-fixed case."""

    def __init__(self, expected: TensorInfo, path: Path):
        self.expected = expected
        self.path = path
        self.dtype = np.dtype(expected.dtype)
        tail = expected.shape[1:]
        self.fixed_tail = tuple(tail) if None not in tail else None

    def __call__(self, batch: np.ndarray) -> None:
        # A tuple comparison costs well under a microsecond, so every run is checked.
        if batch.dtype == self.dtype and batch.shape[1:] == self.fixed_tail:
            return
        check_batch(batch, self.expected, self.path)
