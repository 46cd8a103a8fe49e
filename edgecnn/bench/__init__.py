"""Benchmark of artifacts and checkpoints: latency, throughput, size, memory and accuracy.

Method, per model, in one process:

1. Read the model's metadata record and import its runtime's Python module.
2. Load the model (``load_ms``) and record the RSS increase that loading caused
   (``load_rss_increase_mib``); then time the first inference (``first_inference_ms``) apart.
3. Warm-up runs: at least ``warmup_runs`` calls and ``warmup_min_s`` seconds, untimed.
4. Timed runs at batch 1: at least ``timed_runs`` calls and ``timed_min_s`` seconds, at most
   ``timed_max_s`` seconds. Each call is timed alone with ``time.perf_counter_ns``, cycling
   through ``input_pool`` distinct inputs. Reported: count, min, max, mean, std (ddof 0) and
   the nearest-rank percentiles p50, p90, p95, p99 (the sample at rank ceil(p/100 * n)).
5. MLPerf-Tiny-style latency: ``mlperf_inputs`` (5) inputs timed separately, each for
   ``timed_runs / mlperf_inputs`` calls (at least 10); the median of their mean latencies.
6. Throughput: calls of ``batch_size`` images timed the same way, in images/s.
7. Accuracy (with a data set): top-1 accuracy in percent on the real test split.
8. Peak memory: the process's peak RSS, reset before loading each model where Linux allows
   (``peak_rss_scope`` = "model"), else the peak since the process started ("process").

The harness overhead is the same timed loop around a call that does nothing, reported
once per report. Inputs are real test images with ``--dataset``, else seeded random pixels.
Both go through the metadata record, so int8 inputs are quantized as the model expects.

The JSON report's schema is documented in ``edgecnn.bench.report`` and docs/bench-json-schema.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from edgecnn.bench.config import BenchConfig
from edgecnn.bench.runner import ModelResult, Progress, TestSets, benchmark_model, measure_overhead
from edgecnn.errors import MissingExtraError
from edgecnn.runtimes import resolve_runtime

log = logging.getLogger(__name__)

__all__ = ["BenchConfig", "BenchReport", "ModelResult", "run_benchmarks"]


@dataclass
class BenchReport:
    config: BenchConfig
    environment: dict
    harness_overhead_ms: dict  # the empty call's summary, same keys as a model's latency_ms
    models: list[ModelResult]
    skipped: list[dict] = field(default_factory=list)  # {"path": ..., "reason": ...}


def run_benchmarks(paths: list[Path], config: BenchConfig, skip_missing_runtimes: bool = False,
                   progress: Progress | None = None) -> BenchReport:
    """Benchmark each model file in turn.

    With ``skip_missing_runtimes`` a model whose runtime is not installed is listed in
    ``skipped``; otherwise MissingExtraError is raised naming the extra to install.
    """
    from edgecnn.bench.report import environment

    config.validate()
    runnable, skipped = [], []
    for path in paths:
        try:
            resolve_runtime(path, config.runtime)
            runnable.append(path)
        except MissingExtraError as error:
            if not skip_missing_runtimes:
                raise
            log.info("skipping %s: %s", path, error)
            skipped.append({"path": str(path), "reason": str(error)})

    overhead = measure_overhead(config)
    test_sets = TestSets()
    results = [benchmark_model(path, config, test_sets, progress) for path in runnable]
    runtimes = sorted({result.runtime for result in results})
    return BenchReport(config, environment(runtimes), overhead, results, skipped)
