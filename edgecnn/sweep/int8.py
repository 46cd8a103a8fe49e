"""The optional steps after a trial's training: int8 export of its final checkpoint, then a benchmark.

The export comes from ``edgecnn.export`` and the benchmark from ``edgecnn.bench``, the
libraries behind ``edgecnn export`` and ``edgecnn bench``; this module only calls them.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from edgecnn.errors import ConfigError

log = logging.getLogger(__name__)


class Int8StepUnavailable(ConfigError):
    """The library behind --export-int8 or --bench is not part of this installation."""


def check_available(export_int8: bool, bench: bool) -> None:
    """Raise Int8StepUnavailable before any trial starts when a requested step cannot run."""
    if export_int8 and importlib.util.find_spec("edgecnn.export") is None:
        raise Int8StepUnavailable("--export-int8 needs the edgecnn.export package (the library of `edgecnn "
                                  "export`), which this installation does not include; drop --export-int8, "
                                  "--bench and --metric int8_accuracy|latency, or update edgecnn")
    if bench and importlib.util.find_spec("edgecnn.bench.runner") is None:
        raise Int8StepUnavailable("--bench needs the edgecnn.bench package (the library of `edgecnn bench`), "
                                  "which this installation does not include; drop --bench")


def export_int8(run_dir: Path, data_dir: str | None, test_limit: int | None) -> dict:
    """Export the run's final checkpoint to an int8 TFLite artifact in the run directory.

    Returns the artifact's path, size and test accuracy as validated in the TFLite interpreter.
    The export validates the artifact on the test images as `edgecnn export` does, and fails the
    trial when int8 loses more accuracy than the export's default limit.
    """
    check_available(export_int8=True, bench=False)
    from edgecnn.export.config import ExportConfig
    from edgecnn.export.pipeline import export_model

    config = ExportConfig(formats=["tflite"], int8=True, data_dir=Path(data_dir) if data_dir else None,
                          test_limit=test_limit)
    result = export_model(run_dir, config)
    artifact = next(artifact for artifact in result.artifacts if artifact.spec.int8)
    log.info("%s: int8 artifact %s, %.2f%% test accuracy", run_dir.name, artifact.path.name,
             artifact.validation.accuracy)
    return {
        "int8_artifact": str(artifact.path),
        "int8_size_bytes": artifact.size_bytes,
        "int8_accuracy": artifact.validation.accuracy,  # percent, on the test images
    }


def benchmark_int8(artifact: Path, threads: int, data_dir: str | None, test_limit: int | None) -> dict:
    """Benchmark an int8 artifact with edgecnn.bench and return its size, test accuracy and latency.

    The bench library's defaults set warm-up and timed runs; the runtime gets the trial's threads.
    """
    from edgecnn.bench.config import BenchConfig
    from edgecnn.bench.runner import TestSets, benchmark_model

    config = BenchConfig(threads=threads, dataset="auto", data_dir=data_dir, test_limit=test_limit)
    result = benchmark_model(artifact, config, TestSets())
    log.info("%s: median latency %.3f ms, int8 accuracy %s", artifact.name, result.latency_ms["p50"],
             result.accuracy_top1_percent)
    return {
        "int8_size_bytes": result.file_size_bytes,
        "int8_accuracy": result.accuracy_top1_percent,  # percent, on the test images
        "latency_ms": result.latency_ms["p50"],  # median at batch 1
        "latency_runtime": f"{result.runtime} {result.runtime_version}",
    }
