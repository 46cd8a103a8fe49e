"""The shipped artifacts: the ``.onnx`` and ``.tflite`` files of the repository's ``models/`` folder.

A wheel installs them as package data under ``edgecnn/_models/<dataset>-<preset>/``,
copied there by the build hook in ``setup.py``. An editable install reads the repository's
own ``models/`` folder beside the ``edgecnn`` package instead.
"""

from __future__ import annotations

from pathlib import Path

ARTIFACT_SUFFIXES = (".onnx", ".tflite")


def shipped_models_dirs() -> list[Path]:
    """List the folders that may contain shipped artifacts, the installed package data first."""
    import edgecnn

    package_dir = Path(edgecnn.__file__).resolve().parent
    return [package_dir / "_models", package_dir.parent / "models"]


def shipped_artifacts() -> list[Path]:
    """List the shipped artifacts, sorted by folder and name, from the first folder that has any."""
    for folder in shipped_models_dirs():
        if folder.is_dir():
            found = sorted(path for path in folder.glob("*/*") if path.suffix in ARTIFACT_SUFFIXES)
            if found:
                return found
    return []
