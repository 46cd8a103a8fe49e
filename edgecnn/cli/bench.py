"""``edgecnn bench``: measure latency, throughput, size, memory and accuracy of artifacts."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgecnn.bench.config import BenchConfig
from edgecnn.cli import app
from edgecnn.cli.console import print_table, stderr, user_errors
from edgecnn.errors import ConfigError

DEFAULTS = BenchConfig()


class RuntimeChoice(str, enum.Enum):
    auto = "auto"
    onnxruntime = "onnxruntime"
    litert = "litert"
    tflite_runtime = "tflite-runtime"
    torch = "torch"


class DatasetChoice(str, enum.Enum):
    auto = "auto"
    mnist = "mnist"
    fashion_mnist = "fashion-mnist"
    cifar10 = "cifar10"
    folder = "folder"


@app.command()
def bench(
    models: Annotated[Optional[list[Path]], typer.Argument(
        metavar="MODELS",
        help=".onnx or .tflite artifacts, or training checkpoints (.pt). Default: the shipped artifacts, "
             "skipping those whose runtime is not installed.", show_default=False)] = None,
    runtime: Annotated[RuntimeChoice, typer.Option(help="Runtime; 'auto' picks by file suffix and what is "
                                                   "installed.")] = RuntimeChoice(DEFAULTS.runtime),
    threads: Annotated[int, typer.Option(min=1, help="Intra-op threads of the runtime.")] = DEFAULTS.threads,
    warmup_runs: Annotated[int, typer.Option(min=0, help="Minimum untimed warm-up calls.")] = DEFAULTS.warmup_runs,
    warmup_seconds: Annotated[float, typer.Option(min=0, help="Minimum warm-up time in seconds.")] = (
        DEFAULTS.warmup_min_s),
    runs: Annotated[int, typer.Option(min=1, help="Minimum timed calls at batch 1.")] = DEFAULTS.timed_runs,
    min_seconds: Annotated[float, typer.Option(min=0, help="Minimum timed seconds per measurement.")] = (
        DEFAULTS.timed_min_s),
    max_seconds: Annotated[float, typer.Option(min=0, help="Maximum timed seconds per measurement; ends it early "
                                               "even if fewer calls were made.")] = DEFAULTS.timed_max_s,
    batch_size: Annotated[int, typer.Option(min=1, help="Images per call for the throughput measurement.")] = (
        DEFAULTS.batch_size),
    throughput_runs: Annotated[int, typer.Option(min=1, help="Minimum timed calls at --batch-size.")] = (
        DEFAULTS.throughput_runs),
    dataset: Annotated[Optional[DatasetChoice], typer.Option(
        help="Feed real test images of this data set and measure top-1 accuracy; 'auto' uses each model's "
             "own data set. Default: seeded random inputs, no accuracy.", show_default=False)] = None,
    data_dir: Annotated[Optional[Path], typer.Option(
        help="Folder with the data set files. Default: EDGECNN_DATA_DIR, else ~/.cache/edgecnn/datasets.",
        show_default=False)] = None,
    test_limit: Annotated[Optional[int], typer.Option(min=1, help="Use only the first N test images.",
                                                      show_default="all")] = None,
    validation_size: Annotated[Optional[int], typer.Option(
        min=1, help="Measure accuracy on the first N training images instead of the test set: the validation split "
             "of `edgecnn train --validation-size N` (5000 for the edge preset, 10000 for paper).",
        show_default=False)] = None,
    no_download: Annotated[bool, typer.Option("--no-download", help="Fail instead of downloading missing "
                                              "data set files (also set by EDGECNN_OFFLINE=1).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the random inputs.")] = DEFAULTS.seed,
    json_path: Annotated[Optional[Path], typer.Option("--json", help="Write the JSON report (schema "
                                                      "edgecnn-bench v1) here; '-' for stdout.",
                                                      show_default=False)] = None,
    csv_path: Annotated[Optional[Path], typer.Option("--csv", help="Write one CSV row per model here.",
                                                     show_default=False)] = None,
    markdown_path: Annotated[Optional[Path], typer.Option("--markdown", help="Write a Markdown table with the "
                                                          "machine and method here.", show_default=False)] = None,
    plot_path: Annotated[Optional[Path], typer.Option("--plot", help="Draw the latency distributions into this "
                                                      "PNG (needs matplotlib).", show_default=False)] = None,
) -> None:
    """Benchmark models: latency at batch 1, throughput, load time, size, peak memory and accuracy."""
    with user_errors():
        from edgecnn.bench.shipped import shipped_artifacts

        config = BenchConfig(runtime=runtime.value, threads=threads, warmup_runs=warmup_runs,
                             warmup_min_s=warmup_seconds, timed_runs=runs, timed_min_s=min_seconds,
                             timed_max_s=max_seconds, batch_size=batch_size, throughput_runs=throughput_runs,
                             dataset=None if dataset is None else dataset.value,
                             data_dir=None if data_dir is None else str(data_dir), test_limit=test_limit, seed=seed,
                             validation_size=validation_size, allow_download=not no_download)
        config.validate()
        _check_output_paths({"--json": json_path, "--csv": csv_path, "--markdown": markdown_path,
                             "--plot": plot_path})
        if plot_path is not None:
            from edgecnn.errors import require

            require("matplotlib", "train", "--plot")  # fail before measuring, not after
        paths = list(models or [])
        if not paths:
            paths = shipped_artifacts()
            if not paths:
                raise ConfigError("no model given and no shipped artifacts found; pass .onnx, .tflite or .pt files")
        report = _run_with_progress(paths, config, skip_missing_runtimes=not models)
        _write_outputs(report, json_path, csv_path, markdown_path, plot_path)


def _run_with_progress(paths, config, skip_missing_runtimes):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from edgecnn.bench import run_benchmarks

    if not stderr.is_terminal:
        # A transient bar in a file or pipe leaves only blank lines behind.
        return run_benchmarks(paths, config, skip_missing_runtimes)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=stderr,
                  transient=True) as bar:
        tasks = {}

        def progress(description: str, done: int, total: int) -> None:
            if description not in tasks:
                tasks[description] = bar.add_task(description, total=total)
            bar.update(tasks[description], completed=done, total=total)
            if done >= total:
                bar.remove_task(tasks.pop(description))

        return run_benchmarks(paths, config, skip_missing_runtimes, progress)


def _check_output_paths(paths: dict[str, Path | None]) -> None:
    """Reject an output path that cannot be written, before the benchmark runs rather than after."""
    from edgecnn.fileio import unwritable_reason

    for option, path in paths.items():
        reason = None if path is None or str(path) == "-" else unwritable_reason(path)
        if reason is not None:
            raise ConfigError(f"invalid {option} {path}: {reason}; pass a file path in a writable folder")


def _write_outputs(report, json_path, csv_path, markdown_path, plot_path) -> None:
    from rich.table import Table

    from edgecnn.bench import report as reports

    titles, rows = reports.table_rows(report.models)
    table = Table(*titles, title=f"edgecnn bench: batch 1 latency, throughput at batch {report.config.batch_size}")
    for row in rows:
        table.add_row(*row)
    overhead_us = report.harness_overhead_ms["p50"] * 1000
    if json_path is not None and str(json_path) == "-":
        print_table(table)  # stdout carries the JSON document
        typer.echo(json.dumps(reports.to_document(report), indent=2))
    else:
        print_table(table, to_stderr=False)
    stderr.print(f"harness overhead per timed call: p50 {overhead_us:.3f} µs "
                 f"(an empty call timed the same way)")
    for entry in report.skipped:
        stderr.print(f"skipped {entry['path']}: {entry['reason']}")

    if json_path is not None and str(json_path) != "-":
        reports.write_json(report, json_path)
        stderr.print(f"JSON report: {json_path}")
    if csv_path is not None:
        reports.write_csv(report, csv_path)
        stderr.print(f"CSV: {csv_path}")
    if markdown_path is not None:
        reports.write_markdown(report, markdown_path)
        stderr.print(f"Markdown: {markdown_path}")
    if plot_path is not None:
        from edgecnn.bench.plot import plot_latencies

        plot_latencies(report.models, plot_path)
        stderr.print(f"latency plot: {plot_path}")
