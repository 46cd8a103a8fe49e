"""Data sets by id: ``mnist``, ``fashion-mnist``, ``cifar10`` and ``folder``.

Every loader returns uint8 images in (N, H, W, C) layout with int64 labels, using
numpy only, so the device-side commands can read test data without torch.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecnn.data import cifar, download, folder, idx
from edgecnn.errors import DataError

log = logging.getLogger(__name__)

DATASET_IDS = ("mnist", "fashion-mnist", "cifar10", "folder")
SPLITS = ("train", "test")


@dataclass
class Dataset:
    """One split of a data set held in memory."""

    name: str
    split: str
    images: np.ndarray  # uint8, (N, H, W, C)
    labels: np.ndarray  # int64, (N,)
    classes: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices) -> "Dataset":
        return Dataset(self.name, self.split, self.images[indices], self.labels[indices], self.classes)


@dataclass(frozen=True)
class IdxSpec:
    """File locations and names of one IDX data set."""

    folders: tuple[str, ...]  # sub-folders of the data directory to search, in order
    files: dict[str, tuple[str, str]]  # split -> (images stem, labels stem)
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    md5: dict[str, str]  # compressed file name -> md5


IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}

IDX_SPECS = {
    "mnist": IdxSpec(
        folders=("mnist", "MNIST/raw", "MNIST", "."),
        files=IDX_FILES,
        classes=tuple(str(digit) for digit in range(10)),
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        md5={
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    ),
    "fashion-mnist": IdxSpec(
        folders=("fashion-mnist", "FashionMNIST/raw", "fashion_mnist", "FashionMNIST", "."),
        files=IDX_FILES,
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        md5={
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    ),
}

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_FOLDERS = ("cifar10", "cifar-10", ".")
CIFAR10_ARCHIVE = download.RemoteFile(
    "cifar-10-python.tar.gz", ("https://www.cs.toronto.edu/~kriz/",), "c58f30108f718f92721af3b95e74349a"
)


def default_data_dir() -> Path:
    """Return the per-user cache directory, used when neither --data-dir nor EDGECNN_DATA_DIR is set."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edgecnn" / "datasets"


def resolve_data_dir(data_dir: Path | str | None) -> Path:
    """Pick the data directory: the argument, else EDGECNN_DATA_DIR, else the per-user cache."""
    if data_dir:
        return Path(data_dir).expanduser()
    if os.environ.get("EDGECNN_DATA_DIR"):
        return Path(os.environ["EDGECNN_DATA_DIR"]).expanduser()
    return default_data_dir()


def load_dataset(
    name: str,
    split: str,
    data_dir: Path | str | None = None,
    allow_download: bool = True,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
    seed: int = 0,
    mirrors: tuple[str, ...] | None = None,
) -> Dataset:
    """Load one split of a data set by id.

    ``image_size`` and ``channels`` apply to the ``folder`` data set, whose pictures
    are converted to the model's input; ``mirrors`` overrides the download URLs.
    """
    if name not in DATASET_IDS:
        raise DataError(f"unknown data set '{name}'; choose one of: {', '.join(DATASET_IDS)}")
    if split not in SPLITS:
        raise DataError(f"unknown split '{split}'; choose 'train' or 'test'")
    root = resolve_data_dir(data_dir)
    allow_download = allow_download and not download.offline()

    if name == "folder":
        images, labels, classes = folder.load_folder_split(root, split, image_size or (28, 28), channels or 1, seed)
        return Dataset(name, split, images, labels, classes)
    if name == "cifar10":
        images, labels, classes = _load_cifar10(root, split, allow_download, mirrors)
        return Dataset(name, split, images, labels, classes)
    spec = IDX_SPECS[name]
    images_path, labels_path = _find_idx_files(name, spec, root, split, allow_download, mirrors)
    images, labels = idx.read_idx_pair(images_path, labels_path, len(spec.classes))
    return Dataset(name, split, images, labels, list(spec.classes))


def _idx_candidates(folder_path: Path, stem: str) -> list[Path]:
    # The names users have in practice: the original "-idx3-ubyte", the dotted ".idx3-ubyte"
    # of some re-packagings, each compressed or not.
    dotted = stem.replace("-idx", ".idx")
    return [folder_path / name for name in (f"{stem}.gz", stem, f"{dotted}.gz", dotted)]


def _find_idx_files(name, spec, root, split, allow_download, mirrors) -> tuple[Path, Path]:
    found = []
    for stem in spec.files[split]:
        path = next((p for folder_name in spec.folders for p in _idx_candidates(root / folder_name, stem) if p.is_file()),
                    None)
        if path is None:
            path = _download_idx(name, spec, root, stem, allow_download, mirrors)
        found.append(path)
    return found[0], found[1]


def _download_idx(name, spec, root, stem, allow_download, mirrors) -> Path:
    file_name = f"{stem}.gz"
    target_folder = root / spec.folders[0]
    if not allow_download:
        raise DataError(
            f"{name}: {file_name} (or {stem}) not found under {target_folder}, and downloads are off; "
            f"copy the file there or pass --data-dir pointing at the folder that holds '{spec.folders[0]}/'"
        )
    remote = download.RemoteFile(file_name, mirrors or spec.mirrors, spec.md5[file_name])
    return download.fetch(remote, target_folder)


def _load_cifar10(root: Path, split: str, allow_download: bool, mirrors) -> tuple[np.ndarray, np.ndarray, list[str]]:
    python_names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    binary_names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    for folder_name in CIFAR10_FOLDERS:
        for layout, names, reader in (
            ("cifar-10-batches-py", python_names, cifar.read_python_batch),
            ("cifar-10-batches-bin", binary_names, cifar.read_binary_batch),
        ):
            batch_dir = root / folder_name / layout
            if all((batch_dir / n).is_file() for n in names):
                return _read_cifar_batches(batch_dir, names, reader)

    expected = root / CIFAR10_FOLDERS[0] / "cifar-10-batches-py"
    if not allow_download:
        raise DataError(
            f"cifar10: {', '.join(python_names)} not found under {expected} (nor the binary version under "
            f"cifar-10-batches-bin), and downloads are off; copy the files there or pass --data-dir"
        )
    archive = download.fetch(
        download.RemoteFile(CIFAR10_ARCHIVE.name, mirrors or CIFAR10_ARCHIVE.mirrors, CIFAR10_ARCHIVE.md5),
        root / CIFAR10_FOLDERS[0],
    )
    download.extract_tar(archive, root / CIFAR10_FOLDERS[0])
    archive.unlink()
    return _read_cifar_batches(expected, python_names, cifar.read_python_batch)


def _read_cifar_batches(batch_dir: Path, names: list[str], reader) -> tuple[np.ndarray, np.ndarray, list[str]]:
    parts = [reader(batch_dir / name) for name in names]
    images = np.concatenate([part[0] for part in parts])
    labels = np.concatenate([part[1] for part in parts])
    classes = list(CIFAR10_CLASSES)
    for meta_name in ("batches.meta", "batches.meta.txt"):
        if (batch_dir / meta_name).is_file():
            classes = cifar.read_label_names(batch_dir / meta_name) or classes
            break
    log.info("loaded %d CIFAR-10 images from %s", len(labels), batch_dir)
    return images, labels, classes
