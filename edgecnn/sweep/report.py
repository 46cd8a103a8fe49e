"""The results of a sweep: one row per trial, the best trial, and the CSV, JSON and Markdown files.

Trials are compared on the objective metric only. Test accuracy is shown for the best
trial alone, so the table cannot be used to pick a trial by its test accuracy. Every
trial's own figure stays in its run directory's results.json.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgecnn import fileio
from edgecnn.sweep.options import SweepOptions
from edgecnn.sweep.trial import FINISHED_KEY

CSV_FILE = "results.csv"
JSON_FILE = "results.json"
MARKDOWN_FILE = "results.md"

# Trial status: finished, failed (an error, see the error column), stopped (ASHA ended it
# early, or the sweep was interrupted; --resume continues an interrupted one) or pending.
STATUSES = ("finished", "failed", "stopped", "pending")


@dataclass
class Column:
    key: str  # row key
    header: str  # table header, with the unit
    number_format: str = ""  # format spec for numbers, e.g. ".2f"


RESULT_COLUMNS = [
    Column("status", "status"),
    Column("epochs", "epochs"),
    Column("val_accuracy", "val acc (%)", ".2f"),
    Column("test_accuracy", "test acc (%)", ".2f"),
    Column("params", "params", ","),
    Column("macs", "MACs", ","),
]
INT8_COLUMNS = [Column("int8_size_kib", "int8 size (KiB)", ".1f"), Column("int8_accuracy", "int8 acc (%)", ".2f")]
BENCH_COLUMNS = [Column("latency_ms", "latency (ms)", ".3f")]
TAIL_COLUMNS = [Column("train_wall_seconds", "train (s)", ".1f"), Column("error", "error")]


@dataclass
class SweepReport:
    rows: list[dict]  # one per trial, in trial order
    paths: list[str]  # the searched fields, one column each
    metric_key: str
    mode: str
    best: dict | None  # the best finished row, or None when no trial finished

    def columns(self, options: SweepOptions) -> list[Column]:
        columns = [Column("trial_id", "trial")] + [Column(path, path) for path in self.paths] + RESULT_COLUMNS
        if options.export_int8:
            columns += INT8_COLUMNS
        if options.bench:
            columns += BENCH_COLUMNS
        return columns + TAIL_COLUMNS

    def counts(self) -> dict[str, int]:
        return {status: sum(row["status"] == status for row in self.rows) for status in STATUSES}


def build_report(trials: list[dict], paths: list[str], options: SweepOptions) -> SweepReport:
    """Turn Ray Tune's trial records into rows and choose the best finished trial.

    Each record has 'trial_id', 'config' (the searched values), 'metrics' (the last
    report, possibly empty) and 'error' (a message, or None).
    """
    rows = [_row(trial, paths) for trial in sorted(trials, key=lambda t: t["trial_id"])]
    key, mode = options.result_key, options.resolved_mode
    candidates = [row for row in rows if row["status"] == "finished" and _is_number(row.get(key))]
    best = None
    if candidates:
        pick = max if mode == "max" else min
        # max and min return the first of equal values, so ties go to the earlier trial.
        best = pick(candidates, key=lambda row: row[key])
    for row in rows:
        if row is not best:
            row["test_accuracy"] = None
    return SweepReport(rows, paths, key, mode, best)


def _row(trial: dict, paths: list[str]) -> dict:
    metrics = trial["metrics"] or {}
    finished = bool(metrics.get(FINISHED_KEY))
    if trial["error"]:
        status = "failed"
    elif finished:
        status = "finished"
    elif metrics.get("val_accuracy") is not None:
        status = "stopped"
    else:
        status = "pending"
    row: dict[str, Any] = {"trial_id": trial["trial_id"]}
    row.update({path: trial["config"].get(path) for path in paths})
    size = metrics.get("int8_size_bytes")
    row.update({
        "status": status,
        # A stopped trial reports its epoch count per epoch; a finished one, the total of both stages.
        "epochs": metrics.get("epochs") if finished else metrics.get("training_iteration"),
        "val_accuracy": metrics.get("val_accuracy"),
        "test_accuracy": metrics.get("test_accuracy"),
        "params": metrics.get("params"),
        "macs": metrics.get("macs"),
        "int8_size_kib": None if size is None else size / 1024,
        "int8_accuracy": metrics.get("int8_accuracy"),
        "latency_ms": metrics.get("latency_ms"),
        "train_wall_seconds": metrics.get("train_wall_seconds"),
        "run_dir": metrics.get("run_dir") or trial.get("run_dir"),
        "error": trial["error"],
    })
    return row


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_cell(value: Any, column: Column) -> str:
    if value is None:
        return ""
    if _is_number(value) and column.number_format:
        return format(value, column.number_format)
    return str(value)


def table(report: SweepReport, options: SweepOptions) -> tuple[list[str], list[list[str]]]:
    """Format the headers and cells shared by the terminal table and the Markdown file."""
    columns = report.columns(options)
    return [c.header for c in columns], [[format_cell(row.get(c.key), c) for c in columns] for row in report.rows]


def write_files(report: SweepReport, options: SweepOptions, sweep_dir: Path) -> dict[str, Path]:
    """Write results.csv, results.json and results.md into the sweep directory and return their paths."""
    paths = {"csv": sweep_dir / CSV_FILE, "json": sweep_dir / JSON_FILE, "markdown": sweep_dir / MARKDOWN_FILE}
    fileio.write_text(paths["csv"], _csv(report, options))
    fileio.write_json(paths["json"], {
        "metric": options.metric, "metric_key": report.metric_key, "mode": report.mode,
        "best_trial": report.best["trial_id"] if report.best else None,
        "best_run_dir": report.best["run_dir"] if report.best else None,
        "counts": report.counts(), "trials": report.rows,
    })
    fileio.write_text(paths["markdown"], _markdown(report, options))
    return paths


def _csv(report: SweepReport, options: SweepOptions) -> str:
    # Raw values with units in the header keys, for scripts; the run directory comes last.
    keys = [c.key for c in report.columns(options)] + ["run_dir"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in report.rows:
        writer.writerow({key: _csv_value(row.get(key)) for key in keys})
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return value


def _markdown(report: SweepReport, options: SweepOptions) -> str:
    headers, cells = table(report, options)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(["---"] * len(headers)) + "|"]
    for row in cells:
        lines.append("| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    direction = "highest" if report.mode == "max" else "lowest"
    if report.best is not None:
        summary = (f"Best trial: {report.best['trial_id']} ({direction} {report.metric_key}), run directory "
                   f"`{report.best['run_dir']}`.")
    else:
        summary = "No trial finished, so there is no best trial."
    return "\n".join(lines) + "\n\n" + summary + "\n"
