"""The benchmark: statistics against known samples, reports and CLI errors on tiny real models."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgecnn.bench import BenchConfig, run_benchmarks
from edgecnn.bench.stats import median_of_input_means, nearest_rank, summarize_ns
from edgecnn.cli import app
from test_runtimes import tiny_artifacts  # noqa: F401  (a shared session fixture)

REPO_ROOT = Path(__file__).resolve().parents[1]
# Short measurements: the tests check what is reported, not how fast it is.
QUICK = ["--runs", "20", "--min-seconds", "0", "--warmup-runs", "5", "--warmup-seconds", "0",
         "--throughput-runs", "3", "--batch-size", "8"]

# Run the CLI with torch and TensorFlow made unimportable, then report which of them got imported.
NO_TORCH_RUNNER = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "tensorflow"):
            raise ImportError(f"{name} is blocked in this test")
sys.meta_path.insert(0, Block())
from edgecnn.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    print("heavy modules:", sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "tensorflow")))
"""


def test_nearest_rank_known_samples():
    samples = [15, 20, 35, 40, 50]  # the textbook nearest-rank example
    assert nearest_rank(samples, 5) == 15
    assert nearest_rank(samples, 30) == 20
    assert nearest_rank(samples, 40) == 20
    assert nearest_rank(samples, 50) == 35
    assert nearest_rank(samples, 100) == 50
    hundred = list(range(1, 101))
    assert [nearest_rank(hundred, p) for p in (1, 50, 90, 95, 99)] == [1, 50, 90, 95, 99]
    assert nearest_rank([3, 7, 8, 8, 9, 10, 13, 15, 16, 20], 25) == 8  # rank ceil(2.5) = 3, not 2
    with pytest.raises(ValueError):
        nearest_rank([], 50)


def test_summarize_ns_known_samples():
    summary = summarize_ns([4_000_000, 1_000_000, 3_000_000, 2_000_000])
    assert summary["count"] == 4
    assert summary["min"] == 1.0
    assert summary["max"] == 4.0
    assert summary["mean"] == 2.5
    assert summary["std"] == pytest.approx(np.std([1, 2, 3, 4]))
    assert summary["p50"] == 2.0
    assert summary["p90"] == 4.0
    assert summary["p99"] == 4.0


def test_median_of_input_means():
    per_input = [[1_000_000] * 3, [5_000_000] * 3, [2_000_000, 4_000_000], [9_000_000], [2_000_000]]
    assert median_of_input_means(per_input) == 3.0  # means 1, 5, 3, 9, 2 ms


def test_bench_table_and_json(tiny_artifacts, data_dir, tmp_path):
    json_path, csv_path, markdown_path = tmp_path / "b.json", tmp_path / "b.csv", tmp_path / "b.md"
    models = [str(tiny_artifacts[kind]) for kind in ("onnx", "tflite", "onnx_int8")]
    result = CliRunner().invoke(app, ["bench", *models, *QUICK, "--dataset", "mnist", "--data-dir", str(data_dir),
                                      "--test-limit", "200", "--json", str(json_path), "--csv", str(csv_path),
                                      "--markdown", str(markdown_path)])
    assert result.exit_code == 0, result.output
    assert "model.onnx" in result.stdout
    assert "images/s" in result.stdout

    document = json.loads(json_path.read_text())
    assert document["schema"] == "edgecnn-bench"
    assert document["schema_version"] == 1
    assert document["method"]["percentile_method"] == "nearest-rank"
    assert document["environment"]["cores"] >= 1
    assert document["harness_overhead_ms"]["count"] >= 20
    by_name = {Path(entry["path"]).name: entry for entry in document["models"]}
    assert set(by_name) == {"model.onnx", "model.tflite", "int8-input.onnx"}
    for entry in by_name.values():
        assert entry["latency_ms"]["count"] >= 20
        latency = entry["latency_ms"]
        assert latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
        assert entry["throughput_images_per_s"] > 0
        assert entry["peak_rss_mib"] > 0
        assert entry["accuracy_images"] == 200
        assert len(entry["sha256"]) == 64
    assert by_name["model.tflite"]["runtime"] == "litert"
    assert by_name["int8-input.onnx"]["input_dtype"] == "int8"
    # The ONNX and TFLite exports of one checkpoint classify the same images the same way.
    assert by_name["model.onnx"]["accuracy_top1_percent"] == pytest.approx(
        by_name["model.tflite"]["accuracy_top1_percent"], abs=1.0)

    rows = list(csv.DictReader(csv_path.open()))
    assert len(rows) == 3
    assert "latency_ms_p99" in rows[0]
    markdown = markdown_path.read_text()
    assert markdown.startswith("| model | format |")
    assert "| accuracy % | images scored |" in markdown
    assert "| 200 |" in markdown  # the --test-limit images each accuracy comes from


def test_bench_accuracy_matches_checkpoint(tiny_artifacts, data_dir):
    config = BenchConfig(timed_runs=5, timed_min_s=0, warmup_runs=0, warmup_min_s=0, throughput_runs=1,
                         batch_size=16, dataset="auto", data_dir=str(data_dir), test_limit=300)
    report = run_benchmarks([tiny_artifacts["pt"], tiny_artifacts["onnx"]], config)
    reference, exported = report.models
    assert reference.runtime == "torch"
    assert reference.macs is not None
    assert exported.accuracy_top1_percent == pytest.approx(reference.accuracy_top1_percent, abs=0.34)


def test_bench_validation_split_matches_training(tiny_artifacts, tiny_mnist_checkpoint, data_dir):
    import torch

    # The tiny run held out its first 300 training images; bench must score the same images.
    trained_val_accuracy = torch.load(tiny_mnist_checkpoint, weights_only=True)["metrics"]["val_accuracy"]
    config = BenchConfig(timed_runs=5, timed_min_s=0, warmup_runs=0, warmup_min_s=0, throughput_runs=1,
                         batch_size=16, dataset="auto", data_dir=str(data_dir), validation_size=300)
    report = run_benchmarks([tiny_artifacts["pt"], tiny_artifacts["onnx"]], config)
    reference, exported = report.models
    assert reference.accuracy_images == 300
    assert reference.accuracy_top1_percent == pytest.approx(trained_val_accuracy, abs=0.34)
    assert exported.accuracy_top1_percent == pytest.approx(trained_val_accuracy, abs=0.34)


def test_bench_skips_missing_runtime(tiny_artifacts):
    pytest.importorskip("ai_edge_litert")
    if importlib.util.find_spec("tflite_runtime") is not None:
        pytest.skip("tflite-runtime is installed here")
    config = BenchConfig(runtime="tflite-runtime", timed_runs=5, timed_min_s=0, warmup_runs=0, warmup_min_s=0,
                         throughput_runs=1)
    report = run_benchmarks([tiny_artifacts["tflite"]], config, skip_missing_runtimes=True)
    assert report.models == []
    assert "edgecnn[tflite]" in report.skipped[0]["reason"]


def test_bench_plot(tiny_artifacts, tmp_path):
    pytest.importorskip("matplotlib")
    plot_path = tmp_path / "latency.png"
    result = CliRunner().invoke(app, ["bench", str(tiny_artifacts["onnx"]), *QUICK, "--plot", str(plot_path)])
    assert result.exit_code == 0, result.output
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no blank line left behind by a progress bar
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_bench_errors(tiny_artifacts, tmp_path):
    runner = CliRunner()
    _assert_one_line_error(runner.invoke(app, ["bench", str(tmp_path / "absent.onnx")]), "not found")

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    _assert_one_line_error(runner.invoke(app, ["bench", str(junk)]), "not a loadable ONNX model")

    result = runner.invoke(app, ["bench", str(tiny_artifacts["onnx"]), "--runs", "0"])
    _assert_one_line_error(result, "invalid --runs 0")
    result = runner.invoke(app, ["bench", str(tiny_artifacts["onnx"]), "--validation-size", "100"])
    _assert_one_line_error(result, "--validation-size needs real images", "--dataset auto")
    result = runner.invoke(app, ["bench", str(tiny_artifacts["onnx"]), "--dataset", "auto", "--validation-size",
                                 "100", "--test-limit", "10"])
    _assert_one_line_error(result, "pass only one")

    result = runner.invoke(app, ["bench", str(tmp_path)])
    _assert_one_line_error(result, "is a folder; pass the model files in it")
    # An output path under a file fails before the benchmark runs, not after it.
    result = runner.invoke(app, ["bench", str(tiny_artifacts["onnx"]), "--json", str(junk / "report.json")])
    _assert_one_line_error(result, f"invalid --json {junk / 'report.json'}: {junk} is a file, not a folder")

    if importlib.util.find_spec("tflite_runtime") is None:
        result = runner.invoke(app, ["bench", str(tiny_artifacts["tflite"]), "--runtime", "tflite-runtime"])
        _assert_one_line_error(result, 'pip install "edgecnn[tflite]"')


def test_bench_wrong_input_shape(tiny_artifacts, tmp_path):
    import onnx

    # An artifact whose record promises 32x32 RGB input while the model takes 28x28 grayscale.
    model = onnx.load(str(tiny_artifacts["onnx"]))
    record = json.loads(model.metadata_props[0].value)
    record.update(input_shape=[None, 3, 32, 32], mean=[0.5] * 3, std=[0.25] * 3)
    model.metadata_props[0].value = json.dumps(record)
    mismatched = tmp_path / "mismatched.onnx"
    onnx.save(model, str(mismatched))
    result = CliRunner().invoke(app, ["bench", str(mismatched), *QUICK])
    _assert_one_line_error(result, "takes shape ['N', 1, 28, 28]", "[1, 3, 32, 32]")


def test_bench_does_not_import_torch(tiny_artifacts, tmp_path):
    command = [sys.executable, "-c", NO_TORCH_RUNNER, "bench", str(tiny_artifacts["onnx"]), *QUICK,
               "--json", str(tmp_path / "b.json")]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "heavy modules: []" in completed.stdout
    assert json.loads((tmp_path / "b.json").read_text())["models"][0]["runtime"] == "onnxruntime"
