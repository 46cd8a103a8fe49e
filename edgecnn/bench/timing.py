"""Timed loops: warm-up, then timed runs, each call timed on its own with time.perf_counter_ns."""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

PROGRESS_EVERY = 64  # calls between progress callbacks, which happen outside the timed intervals


def run_for(run: Callable, inputs: Sequence, min_runs: int, min_seconds: float, max_seconds: float,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Call ``run`` on the inputs in turn and return each call's time in nanoseconds.

    Runs until both ``min_runs`` calls and ``min_seconds`` have passed, or until
    ``max_seconds`` is reached, whichever comes first. So on a slow model there can be
    fewer than ``min_runs`` samples: the caller records the actual count.
    """
    clock = time.perf_counter_ns
    samples = []
    count = len(inputs)
    started = clock()
    enough_time = started + int(min_seconds * 1e9)
    time_limit = started + int(max_seconds * 1e9)
    done = 0
    while True:
        batch = inputs[done % count]
        begin = clock()
        run(batch)
        end = clock()
        samples.append(end - begin)
        done += 1
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done)
        if (done >= min_runs and end >= enough_time) or end >= time_limit:
            break
    return np.asarray(samples, dtype=np.int64)


def time_once(run: Callable, batch) -> int:
    """Time one call in nanoseconds, e.g. the first inference after loading."""
    begin = time.perf_counter_ns()
    run(batch)
    return time.perf_counter_ns() - begin


def empty_call(batch) -> None:
    """Do nothing: timed in the same loop as a model, this call measures the harness overhead."""
    return None
