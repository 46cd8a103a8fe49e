"""Shared fixtures: the real data sets from EDGECNN_DATA_DIR and a tiny trained model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiny import tiny_config

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder with the real MNIST, Fashion-MNIST and CIFAR-10 files."""
    path = Path(os.environ.get("EDGECNN_DATA_DIR", DEFAULT_DATA_DIR))
    if not (path / "mnist").is_dir():
        pytest.fail(f"real data sets not found in {path}; set EDGECNN_DATA_DIR to the datasets folder")
    return path


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # Tests never download: a missing file must fail loudly instead of reaching the network.
    monkeypatch.setenv("EDGECNN_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_mnist_run(tmp_path_factory, data_dir) -> Path:
    """A finished run directory of the paper preset trained briefly on a slice of real MNIST."""
    from edgecnn.training.run import start_run, train

    run_dir = start_run(tiny_config("mnist", data_dir), tmp_path_factory.mktemp("runs"), "tiny-mnist")
    train(run_dir)
    return run_dir


@pytest.fixture(scope="session")
def tiny_mnist_checkpoint(tiny_mnist_run) -> Path:
    return tiny_mnist_run / "checkpoints" / "final.pt"


@pytest.fixture(scope="session")
def tiny_cifar_checkpoint(tmp_path_factory, data_dir) -> Path:
    """A final checkpoint of the paper preset trained briefly on a slice of real CIFAR-10 (3x32x32 inputs)."""
    from edgecnn.training.run import start_run, train

    run_dir = start_run(tiny_config("cifar10", data_dir), tmp_path_factory.mktemp("runs"), "tiny-cifar10")
    train(run_dir)
    return run_dir / "checkpoints" / "final.pt"
