"""Readers for CIFAR-10 in its "python version" (pickled batches) and binary version."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from edgecnn.errors import DataError

IMAGE_BYTES = 32 * 32 * 3
# The only globals a CIFAR-10 python batch refers to: enough to rebuild one numpy array.
# numpy 2 moved numpy.core to numpy._core; both spellings resolve to the same functions.
ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds only plain containers and numpy arrays.

    A pickle can name any importable callable and have it called while loading,
    so a crafted batch file could run code. This one rejects every global that a
    real CIFAR-10 batch does not use.
    """

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a CIFAR-10 batch")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):
            module = "numpy._core.multiarray"  # the same function, without numpy 2's deprecation warning
        return super().find_class(module, name)


def load_pickle(path: Path) -> dict:
    """Load one pickled batch with the restricted unpickler."""
    try:
        with open(path, "rb") as file:
            result = RestrictedUnpickler(io.BufferedReader(file), encoding="bytes").load()
    except pickle.UnpicklingError as error:
        raise DataError(f"{path}: rejected as a CIFAR-10 batch: {error}") from None
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise DataError(f"{path}: not a readable CIFAR-10 batch ({type(error).__name__}: {error}); "
                        "delete it and download it again") from None
    if not isinstance(result, dict):
        raise DataError(f"{path}: a CIFAR-10 batch must be a dict, found {type(result).__name__}")
    return result


def read_python_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a pickled batch into (N, 32, 32, 3) uint8 images and int64 labels."""
    batch = load_pickle(path)
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or labels is None:
        raise DataError(f"{path}: a CIFAR-10 batch needs the keys 'data' (array) and 'labels'")
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != IMAGE_BYTES:
        raise DataError(f"{path}: 'data' must be uint8 rows of {IMAGE_BYTES} values, "
                        f"found {data.dtype} with shape {data.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    return _check_and_reshape(path, data, labels)


def read_binary_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a binary batch: records of one label byte followed by 3,072 pixel bytes."""
    raw = np.fromfile(path, dtype=np.uint8)
    record_bytes = 1 + IMAGE_BYTES
    if raw.size == 0 or raw.size % record_bytes:
        raise DataError(f"{path}: size {raw.size} bytes is not a multiple of the {record_bytes}-byte record; "
                        "the file is truncated or corrupt")
    records = raw.reshape(-1, record_bytes)
    return _check_and_reshape(path, records[:, 1:], records[:, 0].astype(np.int64))


def read_label_names(path: Path) -> list[str] | None:
    """Read class names from batches.meta (python version) or batches.meta.txt (binary version)."""
    if path.suffix == ".txt":
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    names = load_pickle(path).get(b"label_names")
    if not names:
        return None
    return [name.decode() if isinstance(name, bytes) else str(name) for name in names]


def _check_and_reshape(path: Path, data: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(data) != len(labels):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels; the file is corrupt")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: label {int(labels.max())} is out of range 0..9; the file is corrupt")
    # Each row is the red plane, then green, then blue: (N, C, H, W) to (N, H, W, C).
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels
