"""Export to ONNX and TFLite on the tiny trained fixtures, checked in the real runtimes (onnxruntime, LiteRT)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgecnn.cli import app
from edgecnn.export.config import ExportConfig

TEST_LIMIT = 300  # test images per validation, enough to see an accuracy drop on the tiny models
CALIB_SAMPLES = 64


@pytest.fixture(scope="module")
def float_and_int8(tmp_path_factory, tiny_mnist_checkpoint, data_dir):
    """Every format, float and int8, of the tiny MNIST model, exported once for the whole module."""
    from edgecnn.export.pipeline import export_model

    out_dir = tmp_path_factory.mktemp("export")
    config = ExportConfig(int8=True, out_dir=out_dir, calib_samples=CALIB_SAMPLES, data_dir=data_dir,
                          test_limit=TEST_LIMIT)
    return export_model(tiny_mnist_checkpoint, config)


@pytest.fixture(scope="module")
def uint8_input(tmp_path_factory, tiny_mnist_checkpoint, data_dir):
    from edgecnn.export.pipeline import export_model

    out_dir = tmp_path_factory.mktemp("export-uint8in")
    config = ExportConfig(int8=True, uint8_input=True, out_dir=out_dir, calib_samples=CALIB_SAMPLES,
                          data_dir=data_dir, test_limit=TEST_LIMIT)
    return export_model(tiny_mnist_checkpoint, config)


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "export.json").read_text())


def _entry(folder: Path, name: str) -> dict:
    return next(entry for entry in _manifest(folder)["artifacts"] if entry["path"] == name)


def _test_slice(data_dir: Path, count: int):
    from edgecnn.data import load_dataset

    test_set = load_dataset("mnist", "test", data_dir, allow_download=False)
    return test_set.images[:count], test_set.labels[:count]


def test_export_writes_every_artifact(float_and_int8):
    names = sorted(path.name for path in float_and_int8.out_dir.iterdir())
    assert names == ["export.json", "tiny-mnist-int8.onnx", "tiny-mnist-int8.tflite", "tiny-mnist.onnx",
                     "tiny-mnist.tflite"]


def test_float_artifacts_match_reference(float_and_int8):
    for result in float_and_int8.artifacts:
        if result.spec.int8:
            continue
        assert result.validation.max_abs_diff < 1e-4, result.spec.file_name
        assert result.validation.agreement == 100.0, result.spec.file_name
        assert result.validation.accuracy == float_and_int8.reference_accuracy, result.spec.file_name


def test_int8_artifacts_keep_accuracy(float_and_int8):
    for result in float_and_int8.artifacts:
        if not result.spec.int8:
            continue
        assert result.accuracy_drop <= 1.0, result.spec.file_name
        assert result.validation.agreement >= 95.0, result.spec.file_name


def test_onnx_single_file_dynamic_batch(float_and_int8):
    import onnx

    model = onnx.load(str(float_and_int8.out_dir / "tiny-mnist.onnx"), load_external_data=False)
    assert not any(tensor.data_location == onnx.TensorProto.EXTERNAL for tensor in model.graph.initializer)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert _entry(float_and_int8.out_dir, "tiny-mnist.onnx")["opset"] == 17


def test_onnx_int8_is_qdq_int8(float_and_int8):
    import onnx

    model = onnx.load(str(float_and_int8.out_dir / "tiny-mnist-int8.onnx"))
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    quantize_nodes = [node for node in model.graph.node if node.op_type == "QuantizeLinear"]
    dequantize_nodes = [node for node in model.graph.node if node.op_type == "DequantizeLinear"]
    assert quantize_nodes, "no QuantizeLinear: activations are not quantized"
    assert dequantize_nodes
    # Activations: each QuantizeLinear's zero point is int8.
    for node in quantize_nodes:
        assert initializers[node.input[2]].data_type == onnx.TensorProto.INT8, node.name
    # Weights: every Conv weight comes from a DequantizeLinear of an int8 initializer with one scale per channel.
    producers = {node.output[0]: node for node in dequantize_nodes}
    conv_nodes = [node for node in model.graph.node if node.op_type == "Conv"]
    assert len(conv_nodes) == 6
    for conv in conv_nodes:
        dequantize = producers[conv.input[1]]
        weight = initializers[dequantize.input[0]]
        assert weight.data_type == onnx.TensorProto.INT8, conv.name
        assert len(initializers[dequantize.input[1]].dims) == 1, f"{conv.name}: weights not per-channel"


def test_onnx_names_are_compact(float_and_int8):
    import onnx

    for name in ("tiny-mnist.onnx", "tiny-mnist-int8.onnx"):
        graph = onnx.load(str(float_and_int8.out_dir / name)).graph
        assert [value.name for value in graph.input] == ["input"], name
        assert [value.name for value in graph.output] == ["logits"], name
        assert [node.name for node in graph.node] == [f"n{index}" for index in range(len(graph.node))], name
        inner = [*(tensor.name for tensor in graph.initializer),
                 *(output for node in graph.node for output in node.output if output != "logits")]
        assert all(re.fullmatch(r"[ct]\d+(_\d+)?", tensor) for tensor in inner), (name, inner)


def test_tflite_int8_is_full_integer(float_and_int8):
    from edgecnn.export.tflite_file import tensor_dtypes

    data = (float_and_int8.out_dir / "tiny-mnist-int8.tflite").read_bytes()
    dtypes = tensor_dtypes(data)
    assert "FLOAT32" not in dtypes
    assert dtypes["INT8"] > 10
    metadata = _entry(float_and_int8.out_dir, "tiny-mnist-int8.tflite")["metadata"]
    assert metadata["input_dtype"] == "int8"
    assert metadata["input_scale"] > 0
    assert metadata["output_scale"] > 0


def test_tflite_has_no_transpose(float_and_int8):
    for name in ("tiny-mnist.tflite", "tiny-mnist-int8.tflite"):
        ops = _entry(float_and_int8.out_dir, name)["ops"]
        assert "TRANSPOSE" not in ops, name
        assert ops["CONV_2D"] + ops.get("DEPTHWISE_CONV_2D", 0) == 6, name


def test_metadata_embedded_in_files(float_and_int8):
    from edgecnn.artifacts import read_record

    for result in float_and_int8.artifacts:
        record = read_record(result.path)
        assert record.source in ("onnx metadata_props", "tflite metadata"), result.spec.file_name
        expected = _entry(float_and_int8.out_dir, result.spec.file_name)["metadata"]
        assert record.metadata.to_dict() == expected, result.spec.file_name


def test_metadata_alone_reproduces_accuracy(float_and_int8, data_dir):
    from edgecnn.artifacts import read_metadata
    from edgecnn.runtimes import open_session

    images, labels = _test_slice(data_dir, TEST_LIMIT)
    for result in float_and_int8.artifacts:
        metadata = read_metadata(result.path)
        session = open_session(result.path)
        outputs = np.concatenate([session.run(batch) for batch in np.split(metadata.preprocess(images), 3)])
        accuracy = 100.0 * np.mean(metadata.dequantize_output(outputs).argmax(axis=1) == labels)
        assert accuracy == pytest.approx(_entry(float_and_int8.out_dir, result.spec.file_name)["accuracy"]), (
            result.spec.file_name)


def test_manifest_contents(float_and_int8):
    import hashlib

    manifest = _manifest(float_and_int8.out_dir)
    assert manifest["schema"] == 1
    for entry in manifest["artifacts"]:
        path = float_and_int8.out_dir / entry["path"]
        assert entry["size_bytes"] == path.stat().st_size
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["ops"]
        assert 0 <= entry["accuracy"] <= 100
        assert 0 <= entry["agreement"] <= 100
        assert entry["test_images"] == TEST_LIMIT
        assert ("max_abs_diff" in entry) == (not entry["int8"]), entry["path"]
        if entry["format"] == "tflite":
            split = entry["size_split_bytes"]
            assert split["weights"] + split["metadata"] + split["overhead"] == entry["size_bytes"]
            assert split["weights"] > 0


def test_tflite_int8_weights_dominate(float_and_int8):
    # 14,862 parameters (edgecnn/nets/paper.py): int8 weights and int32 biases, with tensor names stripped.
    entry = _entry(float_and_int8.out_dir, "tiny-mnist-int8.tflite")
    assert entry["size_bytes"] <= 30 * 1024
    assert entry["size_split_bytes"]["weights"] >= 14_000


def test_uint8_input_matches_float(uint8_input, float_and_int8):
    names = sorted(path.name for path in uint8_input.out_dir.iterdir())
    assert names == ["export.json", "tiny-mnist-uint8in-int8.onnx", "tiny-mnist-uint8in-int8.tflite",
                     "tiny-mnist-uint8in.onnx", "tiny-mnist-uint8in.tflite"]
    for result in uint8_input.artifacts:
        metadata = _entry(uint8_input.out_dir, result.spec.file_name)["metadata"]
        assert metadata["input_dtype"] == "uint8", result.spec.file_name
        assert (metadata["scale"], metadata["mean"], metadata["std"]) == (1.0, [0.0], [1.0])
        if not result.spec.int8:
            assert result.validation.max_abs_diff < 1e-4, result.spec.file_name
            assert result.validation.agreement == 100.0
        else:
            assert result.accuracy_drop <= 1.0, result.spec.file_name


def test_uint8_input_takes_raw_pixels(uint8_input, data_dir):
    from edgecnn.runtimes import open_session

    images, _ = _test_slice(data_dir, 8)
    onnx_session = open_session(uint8_input.out_dir / "tiny-mnist-uint8in.onnx")
    tflite_session = open_session(uint8_input.out_dir / "tiny-mnist-uint8in.tflite")
    assert onnx_session.input.dtype == "uint8"
    assert tflite_session.input.dtype == "uint8"
    onnx_logits = onnx_session.run(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    tflite_logits = tflite_session.run(images)
    np.testing.assert_allclose(onnx_logits, tflite_logits, atol=1e-4)


def test_accuracy_gate_fails_and_writes_nothing(tmp_path, tiny_mnist_checkpoint, data_dir):
    from edgecnn.export import ExportError
    from edgecnn.export.pipeline import export_model

    # One calibration image gives activation ranges far too narrow, so the int8 model loses accuracy.
    config = ExportConfig(formats=["onnx"], int8=True, out_dir=tmp_path, calib_samples=1, data_dir=data_dir,
                          test_limit=TEST_LIMIT, max_accuracy_drop=0.0)
    with pytest.raises(ExportError, match=r"tiny-mnist-int8.onnx lost [0-9.]+ percentage points"):
        export_model(tiny_mnist_checkpoint, config)
    assert list(tmp_path.iterdir()) == []


def test_manifest_merges_by_path(tmp_path, float_and_int8, tiny_mnist_checkpoint, data_dir):
    from edgecnn.export.pipeline import export_model

    for source in float_and_int8.out_dir.iterdir():
        shutil.copy(source, tmp_path / source.name)
    before = _entry(tmp_path, "tiny-mnist.onnx")
    config = ExportConfig(formats=["onnx"], out_dir=tmp_path, opset=18, data_dir=data_dir, test_limit=50)
    export_model(tiny_mnist_checkpoint, config)

    paths = [entry["path"] for entry in _manifest(tmp_path)["artifacts"]]
    assert sorted(paths) == ["tiny-mnist-int8.onnx", "tiny-mnist-int8.tflite", "tiny-mnist.onnx",
                             "tiny-mnist.tflite"]
    after = _entry(tmp_path, "tiny-mnist.onnx")
    assert (before["opset"], after["opset"]) == (17, 18)
    assert after["test_images"] == 50


def test_cli_export_onnx(tmp_path, tiny_mnist_checkpoint, data_dir):
    result = CliRunner().invoke(app, ["export", str(tiny_mnist_checkpoint.parent.parent), "--format", "onnx",
                                      "--out", str(tmp_path), "--data-dir", str(data_dir), "--test-limit", "100"])
    assert result.exit_code == 0, result.output
    assert "✓ tiny-mnist.onnx" in result.output
    assert str(tmp_path / "tiny-mnist.onnx") in result.stdout
    # Captured output is not a terminal: each report line stays whole, not broken at 80 columns.
    [line] = [line for line in result.stderr.splitlines() if line.startswith("✓ tiny-mnist.onnx")]
    assert line.endswith("(onnxruntime)")
    assert (tmp_path / "export.json").is_file()


def test_cli_checkpoint_name_is_stem(tmp_path, tiny_mnist_checkpoint, data_dir):
    checkpoint = tmp_path / "mnist-paper.pt"
    shutil.copy(tiny_mnist_checkpoint, checkpoint)
    result = CliRunner().invoke(app, ["export", str(checkpoint), "--format", "onnx", "--data-dir", str(data_dir),
                                      "--test-limit", "50"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "mnist-paper.onnx").is_file()


@pytest.mark.parametrize("arguments, message", [
    (["--format", "onnx"], "not found"),
    (["--format", "coreml"], "coreml"),
])
def test_cli_rejects_bad_input(tmp_path, arguments, message):
    result = CliRunner().invoke(app, ["export", str(tmp_path / "missing.pt"), *arguments])
    assert result.exit_code == 2
    assert message in result.output


def test_cli_corrupt_checkpoint(tmp_path):
    checkpoint = tmp_path / "broken.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    result = CliRunner().invoke(app, ["export", str(checkpoint), "--format", "onnx"])
    assert result.exit_code == 2
    assert result.output.startswith("error: ")
    assert "not a readable edgecnn checkpoint" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["broken.pt"]


def test_cli_rejects_exported_model(tmp_path):
    exported = tmp_path / "model.onnx"
    exported.write_bytes(b"onnx")
    result = CliRunner().invoke(app, ["export", str(exported)])
    assert result.exit_code == 2
    assert "is an exported model, not a checkpoint; pass the run directory" in result.output


def test_cli_missing_calibration_data(tmp_path, tiny_mnist_checkpoint):
    result = CliRunner().invoke(app, ["export", str(tiny_mnist_checkpoint), "--format", "onnx", "--int8",
                                      "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "data not found" in result.output
    assert not (tmp_path / "out").exists()  # created only once the data and the model are loaded


def test_cli_no_download_fails_offline(tmp_path, tiny_mnist_checkpoint, monkeypatch):
    monkeypatch.delenv("EDGECNN_OFFLINE")
    result = CliRunner().invoke(app, ["export", str(tiny_mnist_checkpoint), "--format", "onnx", "--no-download",
                                      "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert "downloads are off" in result.output


def test_missing_extra_names_export(monkeypatch):
    import sys

    from edgecnn.errors import MissingExtraError
    from edgecnn.export.tflite_export import convert_float_tflite

    monkeypatch.setitem(sys.modules, "litert_torch", None)  # makes `import litert_torch` raise ImportError
    with pytest.raises(MissingExtraError, match=r"edgecnn\[export\]"):
        convert_float_tflite(None, np.zeros((1, 28, 28, 1), np.float32))
