"""Reading an artifact's metadata record: how to feed it, what its outputs mean.

Where the record is found, in order:

- ``.onnx``: the ``metadata_props`` entry ``edgecnn``, read through onnxruntime's
  ``custom_metadata_map`` so the ``onnx`` package is not needed;
- ``.tflite``: the model's ``metadata`` entry ``edgecnn``, read from the flatbuffer with
  a small parser below, so neither TensorFlow nor a schema package is needed;
- for both, else the ``export.json`` beside the artifact:
  ``{"schema": 1, "artifacts": [{"path": ..., "metadata": {...}, "macs": ...}]}``;
- ``.pt`` checkpoints: built from the checkpoint itself (needs torch).
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from edgecnn.metadata import METADATA_KEY, ArtifactMetadata, MetadataError
from edgecnn.runtimes import ModelFileError, check_model_file, model_suffix, runtime_installed

log = logging.getLogger(__name__)

EXPORT_MANIFEST = "export.json"
EXPORT_MANIFEST_SCHEMA = 1
TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier of the TFLite schema, bytes 4..8


@dataclass
class ArtifactRecord:
    """An artifact's metadata record and where it was found."""

    metadata: ArtifactMetadata
    source: str  # "onnx metadata_props", "tflite metadata", "export.json" or "checkpoint"
    macs: int | None = None  # multiply-accumulates per image, where the export recorded them


def read_metadata(path: Path | str) -> ArtifactMetadata:
    """Return the metadata record of an artifact or checkpoint, or raise MetadataError saying to re-export it."""
    return read_record(path).metadata


def read_record(path: Path | str) -> ArtifactRecord:
    """Find an artifact's or checkpoint's metadata record and note where it was found, as listed above."""
    path = Path(path)
    suffix = model_suffix(path)
    check_model_file(path)
    if suffix == ".pt":
        return _checkpoint_record(path)

    embedded = _read_onnx_record(path) if suffix == ".onnx" else _read_tflite_record(path)
    manifest_entry = _manifest_entry(path)
    macs = manifest_entry.get("macs") if manifest_entry else None
    if embedded is not None:
        source = "onnx metadata_props" if suffix == ".onnx" else "tflite metadata"
        return ArtifactRecord(ArtifactMetadata.from_json(embedded), source, macs)
    if manifest_entry is not None and "metadata" in manifest_entry:
        return ArtifactRecord(ArtifactMetadata.from_dict(manifest_entry["metadata"]), EXPORT_MANIFEST, macs)
    raise MetadataError(f"{path}: no '{METADATA_KEY}' metadata record in the file and no entry for it in "
                        f"{path.parent / EXPORT_MANIFEST}; re-export it with `edgecnn export`")


def _read_onnx_record(path: Path) -> str | None:
    if not runtime_installed("onnxruntime"):
        # NOTE: without onnxruntime the record can only come from export.json.
        return None
    from edgecnn.runtimes.onnx_session import OnnxSession

    return OnnxSession(path, threads=1).custom_metadata().get(METADATA_KEY)


def _read_tflite_record(path: Path) -> str | None:
    data = path.read_bytes()
    if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
        raise ModelFileError(f"{path}: not a TFLite model (no '{TFLITE_IDENTIFIER.decode()}' file identifier); "
                             f"pass a file written by `edgecnn export`")
    try:
        entries = tflite_metadata(data)
    except (struct.error, IndexError, ValueError) as error:
        log.warning("%s: cannot parse the TFLite metadata (%s); looking in %s instead", path, error, EXPORT_MANIFEST)
        return None
    value = entries.get(METADATA_KEY)
    return None if value is None else value.rstrip(b"\0").decode("utf-8")


def tflite_metadata(data: bytes) -> dict[str, bytes]:
    """Return the ``metadata`` entries (name -> buffer bytes) of a TFLite flatbuffer.

    Only the tables on the way are decoded, with field numbers from the TFLite schema.
    Model field 4 is ``buffers`` and field 6 is ``metadata``. Metadata field 0 is ``name``
    and field 1 the ``buffer`` index. Buffer field 0 is ``data``, and fields 1 and 2 are the
    ``offset`` and ``size`` of data stored after the flatbuffer, as in files over 2 GB.
    """
    model = _uoffset(data, 0)
    metadata_vector = _field_target(data, model, 6)
    if metadata_vector is None:
        return {}
    buffers_vector = _field_target(data, model, 4)
    entries = {}
    for table in _vector_tables(data, metadata_vector):
        name_at = _field_target(data, table, 0)
        if name_at is None:
            continue
        name = _string(data, name_at)
        buffer_index = _scalar(data, table, 1, "<I", 0)
        buffer_tables = list(_vector_tables(data, buffers_vector)) if buffers_vector is not None else []
        if buffer_index >= len(buffer_tables):
            continue
        buffer = buffer_tables[buffer_index]
        offset = _scalar(data, buffer, 1, "<Q", 0)
        if offset > 1:  # the data lives outside the flatbuffer, at an absolute file offset
            entries[name] = data[offset:offset + _scalar(data, buffer, 2, "<Q", 0)]
            continue
        data_at = _field_target(data, buffer, 0)
        entries[name] = b"" if data_at is None else _byte_vector(data, data_at)
    return entries


def _uoffset(data: bytes, at: int) -> int:
    return at + struct.unpack_from("<I", data, at)[0]


def _field_position(data: bytes, table: int, index: int) -> int | None:
    vtable = table - struct.unpack_from("<i", data, table)[0]
    vtable_size = struct.unpack_from("<H", data, vtable)[0]
    slot = 4 + 2 * index
    if slot >= vtable_size:
        return None
    offset = struct.unpack_from("<H", data, vtable + slot)[0]
    return table + offset if offset else None


def _field_target(data: bytes, table: int, index: int) -> int | None:
    position = _field_position(data, table, index)
    return None if position is None else _uoffset(data, position)


def _scalar(data: bytes, table: int, index: int, fmt: str, default: int) -> int:
    position = _field_position(data, table, index)
    return default if position is None else struct.unpack_from(fmt, data, position)[0]


def _vector_tables(data: bytes, vector: int):
    length = struct.unpack_from("<I", data, vector)[0]
    for i in range(length):
        yield _uoffset(data, vector + 4 + 4 * i)


def _byte_vector(data: bytes, vector: int) -> bytes:
    length = struct.unpack_from("<I", data, vector)[0]
    if vector + 4 + length > len(data):
        raise ValueError("vector runs past the end of the file")
    return data[vector + 4:vector + 4 + length]


def _string(data: bytes, at: int) -> str:
    return _byte_vector(data, at).decode("utf-8")


def parse_manifest(manifest_path: Path) -> dict:
    """Read an export.json, raising ValueError with the reason when it is not valid JSON of the known schema."""
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"invalid JSON ({error})") from None
    schema = manifest.get("schema") if isinstance(manifest, dict) else None
    if schema != EXPORT_MANIFEST_SCHEMA:
        raise ValueError(f"unsupported schema {schema!r} (expected {EXPORT_MANIFEST_SCHEMA})")
    return manifest


def _manifest_entry(path: Path) -> dict | None:
    """Return the entry for this artifact in the export.json beside it, if there is one."""
    manifest_path = path.parent / EXPORT_MANIFEST
    if not manifest_path.is_file():
        return None
    try:
        manifest = parse_manifest(manifest_path)
    except ValueError as error:
        raise MetadataError(f"{manifest_path}: {error}; re-export the artifacts") from None
    for entry in manifest.get("artifacts", []):
        listed = Path(entry.get("path", ""))
        if listed.name == path.name:
            return entry
    return None


def _checkpoint_record(path: Path) -> ArtifactRecord:
    from edgecnn.errors import require

    require("torch", "train", f"reading the checkpoint {path.name}")
    from edgecnn.modelfile import load_trained_model
    from edgecnn.nets.stats import count_macs, count_parameters

    trained = load_trained_model(path)
    normalization = trained.normalization
    metadata = ArtifactMetadata(
        dataset=trained.dataset, classes=trained.classes, preset=trained.preset,
        params=count_parameters(trained.model), input_shape=[None, *trained.input_shape], layout="NCHW",
        input_dtype="float32", scale=normalization["scale"], mean=list(normalization["mean"]),
        std=list(normalization["std"]), float_accuracy=trained.metrics.get("test_accuracy"), method=trained.method,
    )
    return ArtifactRecord(metadata, "checkpoint", count_macs(trained.model, trained.input_shape))
