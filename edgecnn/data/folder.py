"""An image-folder data set: ``root/<class>/*.png|jpg``, the user's own pictures.

When ``root/train`` and ``root/val`` exist they are the two splits; otherwise one
folder of classes is split by a seeded shuffle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgecnn.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
# Pillow's modes for 16-bit grayscale files, such as 16-bit PNGs ("I" is how older Pillow opens them).
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I"}
VALIDATION_FRACTION = 0.2  # share of the images held out when the folder has no train/val subfolders


def list_images(folder: Path) -> list[Path]:
    """List the PNG and JPEG files directly inside a folder, sorted by name."""
    return sorted(path for path in folder.iterdir() if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def decode_image(path: Path, size_hw: tuple[int, int], channels: int) -> np.ndarray:
    """Decode one picture into a (H, W, C) uint8 array of the model's size and channel count."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode in SIXTEEN_BIT_MODES:
                # Pillow's convert() clips 16-bit values at 255, which turns nearly every pixel white.
                # Scaling keeps the picture: 65535 becomes 255.
                scaled = np.asarray(image, dtype=np.float64) / 257
                image = Image.fromarray(scaled.clip(0, 255).round().astype(np.uint8))
            image = image.convert("L" if channels == 1 else "RGB")
            if image.size != (size_hw[1], size_hw[0]):
                image = image.resize((size_hw[1], size_hw[0]), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise DataError(f"{path}: cannot read this image ({error}); remove it or replace it with a PNG or JPEG") from None
    return array[..., None] if channels == 1 else array


def load_folder_split(
    root: Path, split: str, size_hw: tuple[int, int], channels: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load the train or test split of an image folder as (N, H, W, C) uint8 images, labels and class names."""
    if not root.is_dir():
        raise DataError(f"image folder {root} not found; pass --data-dir pointing at a folder of class folders")
    has_split_folders = (root / "train").is_dir() and (root / "val").is_dir()
    class_root = root / "train" if has_split_folders else root
    classes = sorted(path.name for path in class_root.iterdir() if path.is_dir())
    if not classes:
        raise DataError(f"{class_root} has no class folders; expected {class_root}/<class>/<image>.png")

    if has_split_folders:
        split_root = root / ("train" if split == "train" else "val")
        files, labels = _gather(split_root, classes)
    else:
        files, labels = _gather(root, classes)
        order = np.random.default_rng(seed).permutation(len(files))
        held_out = max(1, int(round(len(files) * VALIDATION_FRACTION)))
        chosen = order[held_out:] if split == "train" else order[:held_out]
        files = [files[i] for i in sorted(chosen)]
        labels = [labels[i] for i in sorted(chosen)]
    if not files:
        raise DataError(f"no PNG or JPEG images found for the {split} split under {root}; pass --data-dir with "
                        "a folder of class folders, root/<class>/*.png")

    images = np.stack([decode_image(path, size_hw, channels) for path in files])
    return images, np.asarray(labels, dtype=np.int64), classes


def _gather(split_root: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(classes):
        class_dir = split_root / name
        if not class_dir.is_dir():
            raise DataError(f"class folder {class_dir} not found; {split_root} must hold the same classes as train/")
        found = list_images(class_dir)
        files += found
        labels += [label] * len(found)
    return files, labels
