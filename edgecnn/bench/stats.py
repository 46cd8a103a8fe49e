"""Summary statistics of latency samples: the nearest-rank percentiles and an MLPerf-Tiny-style median."""

from __future__ import annotations

import math

import numpy as np

PERCENTILES = (50, 90, 95, 99)
NS_PER_MS = 1e6


def nearest_rank(sorted_samples, percent: float):
    """Return the nearest-rank percentile: the value at rank ceil(p/100 * n) of the sorted samples (1-based).

    Every result is one of the samples, never an interpolation. p = 0 returns the minimum.
    """
    n = len(sorted_samples)
    if n == 0:
        raise ValueError("no samples to take a percentile of")
    if not 0 <= percent <= 100:
        raise ValueError(f"percentile {percent} is outside 0..100")
    # Round before ceil so that e.g. 0.29 * 100 = 28.999999999999996 gives rank 29, not 30.
    rank = max(1, math.ceil(round(percent / 100 * n, 9)))
    return sorted_samples[rank - 1]


def summarize_ns(samples_ns) -> dict:
    """Summarize per-call times in nanoseconds as milliseconds: count, min, max, mean, std and percentiles.

    ``std`` is the population standard deviation (ddof=0) of the samples.
    """
    values = np.sort(np.asarray(samples_ns, dtype=np.int64))
    if values.size == 0:
        raise ValueError("no samples to summarize")
    as_ms = values / NS_PER_MS
    summary = {
        "count": int(values.size),
        "min": float(as_ms[0]),
        "max": float(as_ms[-1]),
        "mean": float(as_ms.mean()),
        "std": float(as_ms.std()),
    }
    for percent in PERCENTILES:
        summary[f"p{percent}"] = float(nearest_rank(as_ms, percent))
    return summary


def median_of_input_means(per_input_samples_ns) -> float:
    """Return the MLPerf-Tiny-style latency in ms: the median over inputs of each input's mean latency.

    MLPerf Tiny's performance mode times several different inputs (5) separately and
    reports the median; each input's figure is its mean time per call. With an even
    number of inputs the lower median is taken, so the result is one of the means.
    """
    means = sorted(float(np.mean(samples)) / NS_PER_MS for samples in per_input_samples_ns)
    if not means:
        raise ValueError("no inputs to take the median of")
    return means[(len(means) - 1) // 2]
