"""Sweeps: many training runs over a search space of TrainConfig fields, run by Ray Tune.

- ``space``: the search space, addressed by dotted field paths, and applying a trial's values to a config;
- ``options``: the sweep's own settings (objective metric, threads per trial, Ray address, ASHA);
- ``trial``: what one trial runs inside a Ray worker (training, then optional int8 export and benchmark);
- ``tuner``: starting or joining Ray and running, or resuming, the Ray Tune experiment;
- ``report``: the table of all trials, the best trial, and the CSV, JSON and Markdown files;
- ``plot``: accuracy against parameter count with the Pareto front.

Importing this package imports neither torch nor Ray; each is imported where it is used.
"""
