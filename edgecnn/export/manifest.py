"""``export.json``: one entry per artifact in a folder, merged by path across exports and written atomically.

    {"schema": 1, "artifacts": [{"path": "mnist-paper-int8.tflite", "format": "tflite", ...}, ...]}
"""

from __future__ import annotations

import json
from pathlib import Path

from edgecnn import fileio
from edgecnn.artifacts import EXPORT_MANIFEST, EXPORT_MANIFEST_SCHEMA
from edgecnn.export import ExportError


def read_manifest(folder: Path) -> dict:
    """Return the folder's export.json, or an empty one when there is none."""
    path = folder / EXPORT_MANIFEST
    if not path.exists():
        return {"schema": EXPORT_MANIFEST_SCHEMA, "artifacts": []}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ExportError(f"{path}: invalid JSON ({error}); fix or delete it, then export again") from None
    if not isinstance(manifest, dict) or manifest.get("schema") != EXPORT_MANIFEST_SCHEMA:
        raise ExportError(f"{path}: unsupported schema {manifest.get('schema') if isinstance(manifest, dict) else None!r} "
                          f"(expected {EXPORT_MANIFEST_SCHEMA}); delete it, then export again")
    return manifest


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
