"""`edgecnn predict` on real MNIST test images saved as PNG files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgecnn.artifacts import read_metadata
from edgecnn.bench.runner import predict_labels
from edgecnn.cli import app
from edgecnn.runtimes import open_session
from test_bench import NO_TORCH_RUNNER, REPO_ROOT
from test_runtimes import mnist_test_images, tiny_artifacts  # noqa: F401  (shared session fixtures)


@pytest.fixture(scope="session")
def png_folder(mnist_test_images, tmp_path_factory) -> Path:
    """The first 32 MNIST test images as PNG files named <index>.png."""
    folder = tmp_path_factory.mktemp("png")
    for index in range(32):
        Image.fromarray(mnist_test_images.images[index][..., 0]).save(folder / f"{index:02d}.png")
    return folder


@pytest.mark.parametrize("kind", ["onnx", "tflite"])
def test_predict_matches_accuracy_run(kind, tiny_artifacts, mnist_test_images, png_folder):
    result = CliRunner().invoke(app, ["predict", str(tiny_artifacts[kind]), str(png_folder), "--json",
                                      "--top-k", "3"])
    assert result.exit_code == 0, result.output
    predictions = json.loads(result.stdout)["predictions"]
    assert len(predictions) == 32
    predicted = [int(entry["top"][0]["name"]) for entry in predictions]

    # The accuracy run feeds the decoded arrays directly; the PNG round trip must not change a label.
    artifact = tiny_artifacts[kind]
    expected = predict_labels(open_session(artifact), read_metadata(artifact), mnist_test_images.images[:32], 8)
    assert predicted == expected.tolist()
    for entry in predictions:
        probabilities = [score["probability"] for score in entry["top"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6


def test_predict_text_output(tiny_artifacts, png_folder):
    result = CliRunner().invoke(app, ["predict", str(tiny_artifacts["onnx"]), str(png_folder / "00.png"),
                                      "--top-k", "2"])
    assert result.exit_code == 0, result.output
    line = result.stdout.strip()
    assert line.startswith(str(png_folder / "00.png") + ": ")
    assert line.count("%") == 2


def test_predict_invert_restores_dark_on_light(tiny_artifacts, mnist_test_images, png_folder, tmp_path):
    inverted = tmp_path / "inverted.png"
    Image.fromarray(255 - mnist_test_images.images[0][..., 0]).save(inverted)
    runner = CliRunner()

    original = runner.invoke(app, ["predict", str(tiny_artifacts["onnx"]), str(png_folder / "00.png"), "--json"])
    restored = runner.invoke(app, ["predict", str(tiny_artifacts["onnx"]), str(inverted), "--json", "--invert"])
    plain = runner.invoke(app, ["predict", str(tiny_artifacts["onnx"]), str(inverted), "--json"])

    assert restored.exit_code == 0, restored.output
    first = json.loads(original.stdout)["predictions"][0]["top"]
    assert json.loads(restored.stdout)["predictions"][0]["top"] == first
    assert "has a light background" in plain.stderr
    assert "pass --invert" in plain.stderr
    assert "light background" not in original.stderr


def test_predict_int8_input(tiny_artifacts, png_folder):
    result = CliRunner().invoke(app, ["predict", str(tiny_artifacts["onnx_int8"]), str(png_folder / "01.png"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    top = json.loads(result.stdout)["predictions"][0]["top"]
    assert len(top) == 3


def test_predict_errors(tiny_artifacts, png_folder, tmp_path):
    runner = CliRunner()
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    cases = [
        (["predict", str(tiny_artifacts["onnx"]), str(broken)], "cannot read this image"),
        (["predict", str(tiny_artifacts["onnx"]), str(tmp_path / "absent.png")], "not found"),
        (["predict", str(tmp_path / "absent.onnx"), str(png_folder / "00.png")], "not found"),
        (["predict", str(tiny_artifacts["onnx"]), str(png_folder / "00.png"), "--top-k", "0"], "invalid --top-k 0"),
    ]
    for arguments, fragment in cases:
        result = runner.invoke(app, arguments)
        assert result.exit_code == 2, (arguments, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert fragment in lines[0], lines[0]


def test_predict_does_not_import_torch(tiny_artifacts, png_folder):
    command = [sys.executable, "-c", NO_TORCH_RUNNER, "predict", str(tiny_artifacts["onnx"]), str(png_folder),
               "--json"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "heavy modules: []" in completed.stdout
    assert '"predictions"' in completed.stdout


def test_softmax_rows_sum_to_one():
    from edgecnn.predict import softmax

    probabilities = softmax(np.array([[0.0, 1.0, 2.0], [1000.0, 1000.0, 1000.0]]))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(probabilities[1], 1 / 3)
