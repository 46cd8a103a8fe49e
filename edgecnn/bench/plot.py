"""A PNG of the latency distributions of the measured models (needs matplotlib, extra ``train``)."""

from __future__ import annotations

from pathlib import Path

from edgecnn.bench.runner import ModelResult
from edgecnn.errors import require
from edgecnn.fileio import atomic_path


def plot_latencies(results: list[ModelResult], path: Path) -> None:
    """Draw one box plot per model of its batch-1 latency samples in ms, on a log axis."""
    matplotlib = require("matplotlib", "train", "--plot")
    matplotlib.use("Agg")  # files only, no display needed
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(max(6.0, 1.2 * len(results) + 2), 4.5))
    labels = [f"{result.name}\n{result.runtime}, {result.threads}t" for result in results]
    axis.boxplot([result.latency_samples_ms for result in results], whis=(1, 99), showfliers=False)
    axis.set_xticks(range(1, len(results) + 1), labels, rotation=20, ha="right", fontsize=8)
    axis.set_yscale("log")
    axis.set_ylabel("latency per call, batch 1 (ms)")
    axis.set_title("Latency distribution (whiskers: p1 and p99)")
    axis.grid(True, axis="y", which="both", alpha=0.3)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=120, format="png")
    pyplot.close(figure)
