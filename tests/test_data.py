"""Data loaders on the real files, and their errors on corrupt and crafted input."""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgecnn.data import load_dataset
from edgecnn.data.cifar import read_python_batch
from edgecnn.errors import DataError


@pytest.mark.parametrize("name, first_labels", [("mnist", [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]),
                                                ("fashion-mnist", [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])])
def test_idx_train_split_real_files(data_dir, name, first_labels):
    dataset = load_dataset(name, "train", data_dir, allow_download=False)
    assert dataset.images.shape == (60000, 28, 28, 1)
    assert dataset.images.dtype == np.uint8
    assert dataset.labels[:10].tolist() == first_labels
    assert len(dataset.classes) == 10


def test_mnist_test_split_counts(data_dir):
    dataset = load_dataset("mnist", "test", data_dir, allow_download=False)
    assert len(dataset) == 10000
    assert np.bincount(dataset.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_cifar10_real_files(data_dir):
    test = load_dataset("cifar10", "test", data_dir, allow_download=False)
    assert test.images.shape == (1000, 32, 32, 3)
    assert test.labels[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    # Test image 0 is a cat whose first red row starts 158 159 165 166.
    assert test.images[0, 0, :4, 0].tolist() == [158, 159, 165, 166]
    assert test.classes[3] == "cat"


def _copy_mnist(data_dir: Path, target: Path, transform=None) -> Path:
    """Copy the MNIST test files into target/mnist, uncompressed and optionally altered."""
    folder = target / "mnist"
    folder.mkdir(parents=True)
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        raw = gzip.decompress((data_dir / "mnist" / f"{stem}.gz").read_bytes())
        if transform is not None:
            raw = transform(stem, raw)
        (folder / stem).write_bytes(raw)
    return target


def test_idx_uncompressed_and_dotted_names(data_dir, tmp_path):
    root = _copy_mnist(data_dir, tmp_path)
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (root / "mnist" / stem).rename(root / "mnist" / stem.replace("-idx", ".idx"))
    dataset = load_dataset("mnist", "test", root, allow_download=False)
    assert len(dataset) == 10000


@pytest.mark.parametrize("damage, message", [
    (lambda stem, raw: raw[:1000] if "images" in stem else raw, "truncated"),
    (lambda stem, raw: b"\x00\x00\x08\x04" + raw[4:] if "images" in stem else raw, "magic"),
    (lambda stem, raw: raw[:-1] + b"\x0c" if "labels" in stem else raw, "out of range"),
    (lambda stem, raw: raw[:4] + (9999).to_bytes(4, "big") + raw[8:8 + 9999] if "labels" in stem else raw,
     "labels"),
    (lambda stem, raw: raw[:12] + (27).to_bytes(4, "big") + raw[16:] if "images" in stem else raw, "shape"),
])
def test_idx_corrupt_files_rejected(data_dir, tmp_path, damage, message):
    root = _copy_mnist(data_dir, tmp_path, damage)
    with pytest.raises(DataError, match=message):
        load_dataset("mnist", "test", root, allow_download=False)


def test_missing_files_name_expected_paths(tmp_path):
    with pytest.raises(DataError) as error:
        load_dataset("fashion-mnist", "train", tmp_path, allow_download=False)
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    assert str(tmp_path) in str(error.value)


def test_offline_environment_blocks_download(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGECNN_OFFLINE", "1")
    with pytest.raises(DataError, match="downloads are off"):
        load_dataset("cifar10", "test", tmp_path, allow_download=True)


class _Exploit:
    def __reduce__(self):
        return (shutil.rmtree, ("/nonexistent-edgecnn-target",))


def test_crafted_cifar_pickle_rejected(tmp_path):
    batch = tmp_path / "test_batch"
    batch.write_bytes(pickle.dumps({b"data": _Exploit(), b"labels": [0]}, protocol=2))
    with pytest.raises(DataError, match="not allowed"):
        read_python_batch(batch)


def test_cifar_binary_batches(data_dir, tmp_path):
    test = load_dataset("cifar10", "test", data_dir, allow_download=False)
    folder = tmp_path / "cifar10" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    records = np.concatenate([test.labels[:, None].astype(np.uint8),
                              test.images.transpose(0, 3, 1, 2).reshape(len(test), -1)], axis=1)
    records.tofile(folder / "test_batch.bin")
    loaded = load_dataset("cifar10", "test", tmp_path, allow_download=False)
    assert np.array_equal(loaded.images, test.images)
    assert np.array_equal(loaded.labels, test.labels)


def test_cifar_label_count_mismatch_rejected(tmp_path):
    batch = tmp_path / "test_batch"
    data = np.zeros((3, 3072), dtype=np.uint8)
    batch.write_bytes(pickle.dumps({b"data": data, b"labels": [0, 1]}, protocol=2))
    with pytest.raises(DataError, match="3 images but 2 labels"):
        read_python_batch(batch)


def _write_png(path: Path, value: int, mode: str = "RGB", size=(40, 30)) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    color = (value, value, value) if mode == "RGB" else value
    Image.new(mode, size, color).save(path)


def test_folder_dataset_seeded_split_and_conversion(tmp_path):
    for label, name in enumerate(["cat", "dog"]):
        for i in range(5):
            _write_png(tmp_path / name / f"{i}.png", 40 * label + i)
    train = load_dataset("folder", "train", tmp_path, image_size=(28, 28), channels=1, seed=1)
    test = load_dataset("folder", "test", tmp_path, image_size=(28, 28), channels=1, seed=1)
    assert train.images.shape[1:] == (28, 28, 1)
    assert len(train) + len(test) == 10
    assert train.classes == ["cat", "dog"]


def test_folder_dataset_train_val_subfolders(tmp_path):
    for split in ("train", "val"):
        for name in ("a", "b"):
            _write_png(tmp_path / split / name / "x.jpg", 10)
    test = load_dataset("folder", "test", tmp_path, image_size=(32, 32), channels=3)
    assert test.images.shape == (2, 32, 32, 3)


def test_folder_unreadable_image_named(tmp_path):
    for split in ("train", "val"):
        _write_png(tmp_path / split / "a" / "good.png", 1)
        _write_png(tmp_path / split / "b" / "good.png", 2)
    (tmp_path / "train" / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        load_dataset("folder", "train", tmp_path)


def test_sixteen_bit_png_scaled_not_clipped(tmp_path):
    from PIL import Image

    from edgecnn.data.folder import decode_image

    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 257 * 100, 65535]], dtype=np.uint16)).save(path)
    assert decode_image(path, (1, 3), 1)[0, :, 0].tolist() == [0, 100, 255]
    assert decode_image(path, (1, 3), 3)[0, 1].tolist() == [100, 100, 100]
