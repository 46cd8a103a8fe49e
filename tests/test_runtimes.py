"""The runtime layer and metadata reading, on tiny real artifacts in the real runtimes."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from edgecnn.artifacts import read_metadata, read_record, tflite_metadata
from edgecnn.errors import MissingExtraError
from edgecnn.metadata import METADATA_KEY, MetadataError
from edgecnn.native_notices import dropped_notices
from edgecnn.runtimes import InputShapeError, ModelFileError, open_session, resolve_runtime

_BUILT: dict[Path, dict[str, Path]] = {}


def build_tiny_artifacts(checkpoint: Path, folder: Path) -> dict[str, Path]:
    """Export the tiny checkpoint to ONNX and TFLite with embedded metadata records, once per session.

    NOTE: built here with torch.onnx.export and litert_torch.convert until `edgecnn export`
    exists; then these fixtures should call it instead.
    """
    if checkpoint in _BUILT:
        return _BUILT[checkpoint]
    import onnx
    import torch

    from edgecnn.modelfile import load_trained_model

    trained = load_trained_model(checkpoint)
    record = read_metadata(checkpoint).to_dict()
    folder = folder / "mnist-paper"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"pt": checkpoint}

    # ONNX, float NCHW, dynamic batch, the record in metadata_props.
    paths["onnx"] = folder / "model.onnx"
    torch.onnx.export(trained.model, (torch.zeros(1, *trained.input_shape),), str(paths["onnx"]), dynamo=False,
                      input_names=["input"], output_names=["logits"], opset_version=17,
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    model = onnx.load(str(paths["onnx"]))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(record)
    onnx.save(model, str(paths["onnx"]))

    # The same ONNX model without the record, described by an export.json beside it instead.
    manifest_folder = folder.parent / "manifest"
    manifest_folder.mkdir(exist_ok=True)
    del model.metadata_props[:]
    paths["onnx_manifest"] = manifest_folder / "plain.onnx"
    onnx.save(model, str(paths["onnx_manifest"]))
    manifest = {"schema": 1, "artifacts": [{"path": "plain.onnx", "metadata": record, "macs": 12345}]}
    (manifest_folder / "export.json").write_text(json.dumps(manifest))

    # TFLite, float NHWC, batch 1, the record in the flatbuffer's metadata.
    paths["tflite"] = folder / "model.tflite"
    export_tflite(trained.model, trained.input_shape, paths["tflite"])
    nhwc = dict(record, layout="NHWC", input_shape=[None, trained.image_size, trained.image_size,
                                                    trained.in_channels])
    embed_tflite_metadata(paths["tflite"], json.dumps(nhwc))

    paths["onnx_int8"] = folder / "int8-input.onnx"
    write_int8_input_onnx(paths["onnx_int8"], record)
    _BUILT[checkpoint] = paths
    return paths


def export_tflite(model, input_shape: tuple[int, int, int], path: Path) -> None:
    import litert_torch
    import torch

    class ChannelsLast(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x.permute(0, 3, 1, 2))

    channels, height, width = input_shape
    litert_torch.convert(ChannelsLast(model).eval(), (torch.zeros(1, height, width, channels),)).export(str(path))


def embed_tflite_metadata(path: Path, text: str) -> None:
    """Add a metadata entry named 'edgecnn' holding text to a .tflite file, with the schema LiteRT ships."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(path.read_bytes(), 0))
    buffer = schema.BufferT()
    buffer.data = list(text.encode())
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_KEY, len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(builder.Output())


def write_int8_input_onnx(path: Path, record: dict) -> None:
    """A linear classifier whose input is int8 NHWC: DequantizeLinear, Reshape, MatMul, Add."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    input_scale, input_zero_point = 0.0128, -95  # covers the normalized MNIST range, about -0.42..2.82
    initializers = [
        numpy_helper.from_array(np.array(input_scale, np.float32), "scale"),
        numpy_helper.from_array(np.array(input_zero_point, np.int8), "zero_point"),
        numpy_helper.from_array(np.array([-1, 784], np.int64), "flat_shape"),
        numpy_helper.from_array(rng.normal(0, 0.05, (784, 10)).astype(np.float32), "weight"),
        numpy_helper.from_array(np.zeros(10, np.float32), "bias"),
    ]
    nodes = [
        helper.make_node("DequantizeLinear", ["input", "scale", "zero_point"], ["x"]),
        helper.make_node("Reshape", ["x", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weight"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "int8_input", [helper.make_tensor_value_info("input", TensorProto.INT8, ["batch", 28, 28, 1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    quantized = dict(record, params=7850, layout="NHWC", input_shape=[None, 28, 28, 1], input_dtype="int8",
                     input_scale=input_scale, input_zero_point=input_zero_point)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(quantized)
    onnx.save(model, str(path))


@pytest.fixture(scope="session")
def tiny_artifacts(tiny_mnist_checkpoint, tmp_path_factory) -> dict[str, Path]:
    return build_tiny_artifacts(tiny_mnist_checkpoint, tmp_path_factory.mktemp("artifacts"))


@pytest.fixture(scope="session")
def mnist_test_images(data_dir):
    from edgecnn.data import load_dataset

    return load_dataset("mnist", "test", data_dir, allow_download=False).subset(slice(0, 64))


def test_onnx_session_dynamic_batch(tiny_artifacts):
    session = open_session(tiny_artifacts["onnx"], threads=1)
    assert session.info.runtime == "onnxruntime"
    assert session.info.runtime_version[0].isdigit()
    assert session.info.threads == 1
    assert session.input.shape == [None, 1, 28, 28]
    for batch_size in (1, 5):
        output = session.run(np.zeros((batch_size, 1, 28, 28), np.float32))
        assert output.shape == (batch_size, 10)


def test_tflite_session_batch_change(tiny_artifacts):
    session = open_session(tiny_artifacts["tflite"], threads=2)
    assert session.info.runtime == "litert"
    assert session.info.threads == 2
    assert isinstance(session.info.xnnpack, bool)
    batch = np.random.default_rng(0).normal(size=(3, 28, 28, 1)).astype(np.float32)
    together = session.run(batch)
    one_by_one = np.concatenate([session.run(batch[i:i + 1]) for i in range(3)])
    assert together.shape == (3, 10)
    assert session.info.extra["batch_mode"] in ("resize", "split")
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_tflite_session_drops_delegate_notice(tiny_artifacts, capfd):
    # LiteRT prints a notice from C++ on each interpreter it creates. Only that line is dropped.
    session = open_session(tiny_artifacts["tflite"], threads=1)
    session.run(np.zeros((2, 28, 28, 1), np.float32))
    assert session.info.xnnpack, "XNNPACK applied, so its notice would have been printed"
    assert "XNNPACK" not in capfd.readouterr().err


def test_dropped_notices_passes_other_lines_on(capfd):
    with dropped_notices():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\nFATAL: something real\n")
        print("from Python", file=sys.stderr)
    # Under capfd, sys.stderr is not file descriptor 2, so the two lines may swap places.
    assert sorted(capfd.readouterr().err.splitlines()) == ["FATAL: something real", "from Python"]


def test_runtimes_match_checkpoint(tiny_artifacts, mnist_test_images):
    reference = open_session(tiny_artifacts["pt"])
    assert reference.info.runtime == "torch"
    outputs = {}
    for kind in ("pt", "onnx", "tflite"):
        metadata = read_metadata(tiny_artifacts[kind])
        session = open_session(tiny_artifacts[kind])
        outputs[kind] = session.run(metadata.preprocess(mnist_test_images.images[:8]))
    np.testing.assert_allclose(outputs["onnx"], outputs["pt"], atol=1e-4)
    np.testing.assert_allclose(outputs["tflite"], outputs["pt"], atol=1e-4)


def test_int8_input_model_runs(tiny_artifacts, mnist_test_images):
    metadata = read_metadata(tiny_artifacts["onnx_int8"])
    session = open_session(tiny_artifacts["onnx_int8"])
    batch = metadata.preprocess(mnist_test_images.images[:4])
    assert batch.dtype == np.int8
    assert session.input.dtype == "int8"
    assert session.run(batch).shape == (4, 10)


def test_read_metadata_sources(tiny_artifacts):
    expected = {"onnx": "onnx metadata_props", "tflite": "tflite metadata", "onnx_manifest": "export.json",
                "pt": "checkpoint"}
    for kind, source in expected.items():
        record = read_record(tiny_artifacts[kind])
        assert record.source == source, kind
        assert record.metadata.dataset == "mnist", kind
        assert record.metadata.classes == [str(digit) for digit in range(10)], kind
    assert read_record(tiny_artifacts["onnx_manifest"]).macs == 12345
    assert read_record(tiny_artifacts["pt"]).metadata.params == 14862
    assert read_metadata(tiny_artifacts["tflite"]).layout == "NHWC"


def test_read_metadata_without_record(tiny_artifacts, tmp_path):
    bare = tmp_path / "bare.onnx"
    shutil.copy(tiny_artifacts["onnx_manifest"], bare)
    with pytest.raises(MetadataError, match="re-export"):
        read_metadata(bare)


def test_tflite_metadata_parser(tiny_artifacts):
    entries = tflite_metadata(tiny_artifacts["tflite"].read_bytes())
    assert json.loads(entries[METADATA_KEY])["layout"] == "NHWC"
    assert "min_runtime_version" in entries  # written by the converter itself


def test_not_a_model_is_one_line(tmp_path):
    for name, content in (("junk.onnx", b"not a model"), ("junk.tflite", b"not a model at all")):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ModelFileError) as raised:
            open_session(path)
        assert "\n" not in str(raised.value)
        assert name in str(raised.value)


def test_unsupported_suffix_and_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="unsupported model file type"):
        open_session(tmp_path / "model.h5")
    with pytest.raises(ModelFileError, match="not found"):
        open_session(tmp_path / "absent.onnx")


def test_folder_names_model_files_in_it(tmp_path):
    with pytest.raises(ModelFileError, match=r"is a folder; pass the model files in it, e\.g\. .*\*\.onnx"):
        open_session(tmp_path)


def test_missing_runtime_names_extra(tiny_artifacts):
    pytest.importorskip("onnxruntime")
    if resolve_runtime(tiny_artifacts["tflite"]) == "tflite-runtime":
        pytest.skip("tflite-runtime is installed here")
    with pytest.raises(MissingExtraError, match=r"edgecnn\[tflite\]"):
        open_session(tiny_artifacts["tflite"], runtime="tflite-runtime")


def test_wrong_input_shape(tiny_artifacts):
    session = open_session(tiny_artifacts["onnx"])
    with pytest.raises(InputShapeError, match=r"takes shape \['N', 1, 28, 28\]"):
        session.run(np.zeros((1, 28, 28, 1), np.float32))
    with pytest.raises(InputShapeError, match="takes float32, got int8"):
        session.run(np.zeros((1, 1, 28, 28), np.int8))


@pytest.mark.parametrize("content, reason", [("[1, 2]", "unsupported schema None"),
                                             ('{"schema": 9}', "unsupported schema 9"),
                                             ("{not json", "invalid JSON")])
def test_parse_manifest_rejects_bad_files(tmp_path, content, reason):
    from edgecnn.artifacts import parse_manifest

    path = tmp_path / "export.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        parse_manifest(path)
