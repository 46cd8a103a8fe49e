"""Checkpoint files: written atomically, read with torch.load(weights_only=True).

A checkpoint holds only tensors and plain Python values, so loading one never runs
code from the file.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from edgecnn.errors import CheckpointError
from edgecnn.fileio import atomic_path

FORMAT_VERSION = 1


def save(path: Path, payload: dict) -> None:
    with atomic_path(path) as temporary:
        torch.save({"format_version": FORMAT_VERSION, **payload}, temporary)


def load(path: Path | str) -> dict:
    """Load a checkpoint written by save, or raise CheckpointError saying what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found; pass a .pt file or a run directory")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's own message suggests weights_only=False, which would run code from the file.
        raise CheckpointError(f"{path}: not a readable edgecnn checkpoint (it is damaged, or contains objects "
                              "other than tensors and plain values, which are never loaded because they could run "
                              "code); use a checkpoint written by edgecnn") from None
    except (RuntimeError, EOFError, ValueError, OSError, AttributeError, IndexError, KeyError, TypeError,
            zipfile.BadZipFile) as error:
        raise CheckpointError(f"{path}: not a readable edgecnn checkpoint ({type(error).__name__}: the file is "
                              "damaged or was not written by edgecnn); delete it, or for a run's last.pt start "
                              "a new run") from None
    if not isinstance(payload, dict) or payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not an edgecnn checkpoint (format version {FORMAT_VERSION} expected)")
    return payload
