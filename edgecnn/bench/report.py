"""Benchmark reports: the versioned JSON document, CSV, Markdown and the rows of the terminal table.

JSON schema ``edgecnn-bench``, version 1 (docs/bench-json-schema.md describes every key)::

    {
      "schema": "edgecnn-bench", "schema_version": 1, "created_utc": "2025-01-01T12:00:00Z",
      "environment": {"cpu", "architecture", "cores", "os", "python", "packages": {name: version}},
      "method": {"timer", "percentile_method", "latency_batch_size", ...BenchConfig fields},
      "harness_overhead_ms": {"count", "min", "max", "mean", "std", "p50", "p90", "p95", "p99"},
      "skipped": [{"path", "reason"}],
      "models": [ModelResult.to_dict(), ...]
    }

A change that renames or removes a key raises ``schema_version``; added keys do not.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path

from edgecnn import fileio
from edgecnn.bench import BenchReport
from edgecnn.bench.runner import ModelResult
from edgecnn.environment import describe

SCHEMA = "edgecnn-bench"
SCHEMA_VERSION = 1
PACKAGES = ("edgecnn", "numpy", "onnxruntime", "ai-edge-litert", "tflite-runtime", "torch")

# Columns of the terminal table, Markdown and CSV summary: (title, function of a result).
TABLE_COLUMNS = (
    ("model", lambda r: r.name),
    ("format", lambda r: r.format),
    ("runtime", lambda r: f"{r.runtime} {r.runtime_version}"),
    ("threads", lambda r: str(r.threads)),
    ("size KB", lambda r: f"{r.file_size_kb:.1f}"),
    ("accuracy %", lambda r: "-" if r.accuracy_top1_percent is None else f"{r.accuracy_top1_percent:.2f}"),
    ("images scored", lambda r: "-" if r.accuracy_images is None else f"{r.accuracy_images:,}"),
    ("p50 ms", lambda r: f"{r.latency_ms['p50']:.4f}"),
    ("p90 ms", lambda r: f"{r.latency_ms['p90']:.4f}"),
    ("p99 ms", lambda r: f"{r.latency_ms['p99']:.4f}"),
    ("images/s", lambda r: f"{r.throughput_images_per_s:,.0f}"),
    ("peak MiB", lambda r: f"{r.peak_rss_mib:.1f}"),
)


def environment(runtimes: list[str]) -> dict:
    """Describe the machine and library versions recorded with every report."""
    described = describe(PACKAGES)
    described["runtimes_used"] = runtimes
    return described


def to_document(report: BenchReport) -> dict:
    method = {"timer": "time.perf_counter_ns", "percentile_method": "nearest-rank",
              "latency_batch_size": 1, "std_ddof": 0, **report.config.to_dict()}
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": report.environment,
        "method": method,
        "harness_overhead_ms": report.harness_overhead_ms,
        "skipped": report.skipped,
        "models": [result.to_dict() for result in report.models],
    }


def write_json(report: BenchReport, path: Path) -> None:
    fileio.write_text(path, json.dumps(to_document(report), indent=2) + "\n")


def table_rows(results: list[ModelResult]) -> tuple[list[str], list[list[str]]]:
    """Return the column titles and one row of formatted cells per result."""
    titles = [title for title, _ in TABLE_COLUMNS]
    return titles, [[cell(result) for _, cell in TABLE_COLUMNS] for result in results]


def csv_text(report: BenchReport) -> str:
    """Format one CSV row per model with every scalar of its result, latency as latency_ms_<statistic> columns."""
    rows = []
    for result in report.models:
        row = {key: value for key, value in result.to_dict().items() if key != "latency_ms"}
        row["input_shape"] = "x".join("N" if dim is None else str(dim) for dim in result.input_shape)
        row.update({f"latency_ms_{key}": value for key, value in result.latency_ms.items()})
        rows.append(row)
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(report: BenchReport, path: Path) -> None:
    fileio.write_text(path, csv_text(report))


def markdown_text(report: BenchReport) -> str:
    """Format a Markdown page: the comparison table, then the machine and the method behind it."""
    titles, rows = table_rows(report.models)
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    env = report.environment
    config = report.config
    versions = ", ".join(f"{name} {version}" for name, version in env["packages"].items() if version)
    overhead = report.harness_overhead_ms
    lines += [
        "",
        f"Machine: {env['cpu']}, {env['architecture']}, {env['cores']} cores, {env['os']}, Python {env['python']}.",
        f"Packages: {versions}.",
        f"Method: latency at batch 1, each call timed with time.perf_counter_ns after at least "
        f"{config.warmup_runs} warm-up runs and {config.warmup_min_s} s; at least {config.timed_runs} timed runs "
        f"and {config.timed_min_s} s, at most {config.timed_max_s} s; nearest-rank percentiles; throughput at "
        f"batch {config.batch_size}; threads as listed per row.",
        f"Harness overhead (an empty call timed the same way): p50 {overhead['p50'] * 1000:.3f} µs, "
        f"mean {overhead['mean'] * 1000:.3f} µs.",
    ]
    if config.validation_size is not None:
        lines.append(f"Accuracy: on the first {config.validation_size:,} training images, the validation split "
                     "held out by `edgecnn train`, not on the test set.")
    if report.skipped:
        lines.append("Skipped: " + "; ".join(f"{entry['path']} ({entry['reason']})" for entry in report.skipped))
    return "\n".join(lines) + "\n"


def write_markdown(report: BenchReport, path: Path) -> None:
    fileio.write_text(path, markdown_text(report))
