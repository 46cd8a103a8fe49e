"""``export.json``: one entry per artifact in a folder, merged by path across exports and written atomically.

    {"schema": 1, "artifacts": [{"path": "mnist-paper-int8.tflite", "format": "tflite", ...}, ...]}
"""

from __future__ import annotations

from pathlib import Path

from edgecnn import fileio
from edgecnn.artifacts import EXPORT_MANIFEST, EXPORT_MANIFEST_SCHEMA, parse_manifest
from edgecnn.export import ExportError


def read_manifest(folder: Path) -> dict:
    """Return the folder's export.json, or an empty one when there is none."""
    path = folder / EXPORT_MANIFEST
    if not path.exists():
        return {"schema": EXPORT_MANIFEST_SCHEMA, "artifacts": []}
    try:
        return parse_manifest(path)
    except ValueError as error:
        raise ExportError(f"{path}: {error}; fix or delete it, then export again") from None


def merge_entries(manifest: dict, entries: list[dict]) -> dict:
    """Return the manifest with `entries` added; an entry replaces the one with the same path, in place."""
    merged = {entry["path"]: entry for entry in manifest.get("artifacts", [])}
    for entry in entries:
        merged[entry["path"]] = entry
    return {"schema": EXPORT_MANIFEST_SCHEMA, "artifacts": list(merged.values())}


def write_manifest(folder: Path, manifest: dict) -> Path:
    path = folder / EXPORT_MANIFEST
    fileio.write_json(path, manifest)
    return path
