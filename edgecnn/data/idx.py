"""Reader for the IDX format of MNIST and Fashion-MNIST, gzip-compressed or raw.

Layout: a big-endian magic number whose third byte is the element type (0x08 for
uint8) and whose fourth byte is the number of dimensions, then each dimension as a
big-endian uint32, then the data.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from edgecnn.errors import DataError

IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions: N x rows x cols
LABELS_MAGIC = 0x00000801  # uint8, 1 dimension: N


def read_bytes(path: Path) -> bytes:
    """Read a file, decompressing it when it is gzip (detected by its magic bytes, not its name)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: corrupt gzip data ({error}); delete the file and download it again") from None
    return raw


def parse_idx(data: bytes, expected_magic: int, path: Path) -> np.ndarray:
    """Parse IDX bytes into a uint8 array, checking the magic number and the data length."""
    if len(data) < 8:
        raise DataError(f"{path}: truncated IDX file ({len(data)} bytes); delete it and download it again")
    magic = int.from_bytes(data[0:4], "big")
    if magic != expected_magic:
        raise DataError(
            f"{path}: wrong IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x}; "
            "is this an image file where a label file belongs, or the reverse?"
        )
    ndim = magic & 0xFF
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise DataError(f"{path}: truncated IDX header; delete the file and download it again")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected_bytes = header_bytes + int(np.prod(shape))
    if len(data) != expected_bytes:
        raise DataError(
            f"{path}: IDX header promises shape {shape} ({expected_bytes} bytes) but the file has "
            f"{len(data)} bytes; the file is truncated or corrupt, delete it and download it again"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(shape)


def read_idx_pair(images_path: Path, labels_path: Path, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Read matching IDX image and label files into (N, H, W, 1) uint8 images and int64 labels."""
    images = parse_idx(read_bytes(images_path), IMAGES_MAGIC, images_path)
    labels = parse_idx(read_bytes(labels_path), LABELS_MAGIC, labels_path).astype(np.int64)
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} contains {len(images)} images but {labels_path} contains {len(labels)} labels; "
            "the two files must come from the same split"
        )
    if labels.size and labels.max() >= num_classes:
        raise DataError(
            f"{labels_path}: label {int(labels.max())} is out of range 0..{num_classes - 1}; the file is corrupt"
        )
    return images[..., None], labels
