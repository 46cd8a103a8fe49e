"""Running a sweep on Ray Tune: a local Ray instance or an existing cluster, one trial per training run.

A sweep directory contains:

- ``sweep.json``: the base configuration, the search space and the sweep options, so
  ``--resume`` needs nothing else;
- ``trials/<trial id>/``: one edgecnn run directory per trial;
- ``tune/``: Ray Tune's experiment state, which Tuner.restore reads;
- ``results.csv``, ``results.json``, ``results.md`` and ``pareto.png``, rewritten after every run.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from edgecnn import __version__, fileio
from edgecnn.errors import ConfigError, require
from edgecnn.sweep import int8, plot, space
from edgecnn.sweep.options import SweepOptions
from edgecnn.sweep.report import SweepReport, build_report, write_files
from edgecnn.sweep.space import SearchSpace
from edgecnn.sweep.trial import TRIALS_DIR, run_trial
from edgecnn.training import rundir
from edgecnn.training.config import TrainConfig

log = logging.getLogger(__name__)

SPEC_FILE = "sweep.json"
SPEC_SCHEMA = 1
TUNE_DIR = "tune"
# Environment variables a trial needs on whichever node runs it (data folder, offline mode).
FORWARDED_PREFIX = "EDGECNN_"


@dataclass
class SweepOutcome:
    sweep_dir: Path
    report: SweepReport
    options: SweepOptions
    files: dict[str, Path]  # csv, json, markdown and, when a trial finished, plot


# --- Creating a sweep directory ---

def create_sweep(base: TrainConfig, search_space: SearchSpace, options: SweepOptions, project: Path,
                 name: str | None = None) -> Path:
    """Validate everything, then create the sweep directory and save what --resume needs in sweep.json."""
    options.validate()
    int8.check_available(options.export_int8, options.bench)
    base = absolute_paths(base)
    base.threads = options.threads_per_trial
    base.validate()
    checked = space.validate(search_space, base)
    if checked.samples > 1 and all(d.kind == "grid" for d in checked.dimensions):
        log.warning("samples %d with a grid only repeats each grid point %d times with the same configuration",
                    checked.samples, checked.samples)

    sweep_dir = rundir.new_run_dir(Path(project).resolve(), name or base.dataset)
    fileio.write_json(sweep_dir / SPEC_FILE, {
        "schema": SPEC_SCHEMA, "edgecnn": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "base_config": base.to_dict(), "space": checked.to_dict(), "options": options.to_dict(),
    })
    log.info("sweep directory %s: %d trial(s), %d thread(s) each", sweep_dir, checked.trial_count(),
             options.threads_per_trial)
    return sweep_dir


def absolute_paths(config: TrainConfig) -> TrainConfig:
    """Resolve the data folder to an absolute path, because each trial runs in its own working directory."""
    from edgecnn.data import resolve_data_dir

    config.data_dir = str(resolve_data_dir(config.data_dir).resolve())
    return config


def read_spec(sweep_dir: Path) -> tuple[TrainConfig, SearchSpace, SweepOptions]:
    path = Path(sweep_dir) / SPEC_FILE
    if not path.is_file():
        raise ConfigError(f"{sweep_dir} is not a sweep directory ({SPEC_FILE} not found); pass the directory "
                          "that `edgecnn sweep` printed")
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}: invalid JSON ({error})") from None
    if spec.get("schema") != SPEC_SCHEMA:
        raise ConfigError(f"{path}: unsupported sweep file schema {spec.get('schema')!r} (expected {SPEC_SCHEMA})")
    return (TrainConfig.from_dict(spec["base_config"]), SearchSpace.from_dict(spec["space"]),
            SweepOptions.from_dict(spec["options"]))


# --- Running it ---

def run_sweep(sweep_dir: Path, resume: bool = False, cpus: int | None = None,
              address: str | None = None) -> SweepOutcome:
    """Run (or, with resume, continue) the sweep saved in sweep_dir, then write its tables and plot.

    cpus and address, when given, replace the saved ones: a resumed sweep may run elsewhere.
    """
    require("ray.tune", "sweep", "edgecnn sweep")
    sweep_dir = Path(sweep_dir).resolve()
    base, search_space, options = read_spec(sweep_dir)
    if cpus is not None:
        options.cpus = cpus
    if address is not None:
        options.address = address
    options.validate()
    int8.check_available(options.export_int8, options.bench)
    tune_path = sweep_dir / TUNE_DIR

    with ray_session(options, max_trial_cpus(base, search_space)):
        from ray import tune

        trainable = make_trainable(base, search_space, options, sweep_dir)
        if resume:
            if not tune.Tuner.can_restore(str(tune_path)):
                raise ConfigError(f"{sweep_dir} has no saved Ray Tune state in {TUNE_DIR}/; run the sweep "
                                  "without --resume")
            log.info("resuming the sweep in %s", sweep_dir)
            # resume_errored retries failed trials too; each continues its run directory.
            tuner = tune.Tuner.restore(str(tune_path), trainable, resume_unfinished=True, resume_errored=True)
        else:
            if tune_path.exists():
                raise ConfigError(f"{sweep_dir} has already run; pass --resume {sweep_dir} to continue it")
            tuner = tune.Tuner(trainable, param_space=space.to_tune(search_space, base),
                               tune_config=_tune_config(search_space, options),
                               run_config=_run_config(sweep_dir, options))
        result_grid = tuner.fit()
        trials = [_trial_record(result, sweep_dir) for result in result_grid]

    report = build_report(trials, search_space.paths, options)
    files = write_files(report, options, sweep_dir)
    if plot.plot_pareto(report.rows, report.best, sweep_dir / plot.PLOT_FILE):
        files["plot"] = sweep_dir / plot.PLOT_FILE
    return SweepOutcome(sweep_dir, report, options, files)


def max_trial_cpus(base: TrainConfig, search_space: SearchSpace) -> int:
    """Return the max CPUs one trial reserves: its thread count, or the largest 'threads' value searched."""
    for dimension in search_space.dimensions:
        if dimension.path == "threads":
            return int(max(dimension.values))
    return base.threads


def make_trainable(base: TrainConfig, search_space: SearchSpace, options: SweepOptions, sweep_dir: Path):
    """run_trial with the sweep's spec bound and each trial's thread count reserved as Ray CPUs."""
    from ray import tune

    spec = {"base_config": base.to_dict(), "sweep_dir": str(sweep_dir), "export_int8": options.export_int8,
            "bench": options.bench}
    trainable = tune.with_parameters(run_trial, spec=spec)
    if "threads" in search_space.paths:
        threads = base.threads
        return tune.with_resources(trainable, lambda config: {"cpu": int(config.get("threads", threads))})
    return tune.with_resources(trainable, {"cpu": base.threads})


def _tune_config(search_space: SearchSpace, options: SweepOptions):
    from ray import tune

    scheduler = None
    if options.asha:
        from ray.tune.schedulers import ASHAScheduler

        # ASHA compares trials at the same number of reports, one per epoch, on validation
        # accuracy, whatever the objective metric is. max_t only caps the rungs; each trial
        # still ends with its own schedule.
        scheduler = ASHAScheduler(time_attr="training_iteration", metric="val_accuracy", mode="max",
                                  grace_period=options.asha_grace_epochs,
                                  reduction_factor=options.asha_reduction_factor, max_t=10_000)
    return tune.TuneConfig(num_samples=search_space.samples, scheduler=scheduler)


def _run_config(sweep_dir: Path, options: SweepOptions):
    from ray import tune

    return tune.RunConfig(
        name=TUNE_DIR, storage_path=str(sweep_dir), verbose=0, callbacks=[_logging_callback()],
        failure_config=tune.FailureConfig(max_failures=options.max_failures, fail_fast=False),
    )


def _logging_callback():
    """A Tune callback that logs trial starts, finishes and failures (the CLI shows them on stderr)."""
    from ray import tune

    class LogTrials(tune.Callback):
        def on_trial_start(self, iteration, trials, trial, **info):
            log.info("trial %s started: %s", trial.trial_id, _describe(trial.config))

        def on_trial_complete(self, iteration, trials, trial, **info):
            result = trial.last_result or {}
            log.info("trial %s finished: val accuracy %s%%", trial.trial_id, result.get("val_accuracy"))

        def on_trial_error(self, iteration, trials, trial, **info):
            log.warning("trial %s failed; its error is in the results table and in %s", trial.trial_id,
                        Path(trial.local_path or "") / "error.txt")

    return LogTrials()


def _describe(config: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in config.items())


def _trial_record(result, sweep_dir: Path) -> dict:
    """Extract the fields of a ray.tune.Result that the report needs."""
    metrics = dict(result.metrics or {})
    trial_id = metrics.get("trial_id") or _trial_id_from_path(result.path)
    return {"trial_id": trial_id, "config": dict(result.config or {}), "metrics": metrics,
            "error": _one_line(result.error) if result.error else None,
            "run_dir": str(sweep_dir / TRIALS_DIR / trial_id)}


def _trial_id_from_path(path: str) -> str:
    # Ray Tune names a trial's folder <trainable>_<experiment id>_<index>_<values>_<date>.
    match = re.search(r"_([0-9a-f]{5}_\d{5})(?:_|$)", Path(path).name)
    return match.group(1) if match else Path(path).name


def _one_line(error: BaseException) -> str:
    """Return the last line of a trial's error, e.g. 'ConfigError: validation size ... leaves no training images'.

    Ray wraps an exception raised in a worker with its remote traceback; the last
    non-empty line names the original exception and its message.
    """
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    # "edgecnn.errors.ConfigError: ..." reads better as "ConfigError: ...".
    return re.sub(r"^(?:[A-Za-z_][\w]*\.)+(?=[A-Za-z_]\w*(?:Error|Exception)\b)", "", lines[-1])


# --- Ray ---

@contextlib.contextmanager
def ray_session(options: SweepOptions, trial_cpus: int) -> Iterator[None]:
    """Start a local Ray instance (or connect to options.address) for the block, and stop or leave it after."""
    # Both must be set before Ray starts: no usage statistics leave the machine, and Ray Tune's
    # own progress tables stay off stdout, which the CLI keeps for its results.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    env_vars = {key: value for key, value in os.environ.items() if key.startswith(FORWARDED_PREFIX)}
    common = {"log_to_driver": False, "logging_level": logging.WARNING, "runtime_env": {"env_vars": env_vars}}
    if options.address is None:
        # "local" starts a new instance even when RAY_ADDRESS is set or another `ray start` runs here.
        log.info("starting a local Ray instance with %s CPU(s)", options.cpus or "all")
        ray.init(address="local", num_cpus=options.cpus, include_dashboard=False, **common)
    else:
        log.info("connecting to the Ray cluster at %s", options.address)
        try:
            ray.init(address=options.address, **common)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ConfigError(f"could not connect to the Ray cluster at {options.address} ({_one_line(error)}); "
                              "check --address, or start the cluster with `ray start --head`") from None
    if not log.isEnabledFor(logging.DEBUG):
        # Ray Tune logs each failed trial's traceback; the results table shows its last line
        # and error.txt in the trial's folder keeps the whole traceback.
        for name in ("ray.tune.execution.tune_controller", "ray.tune.tune"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        available = ray.cluster_resources().get("CPU", 0)
        if available < trial_cpus:
            raise ConfigError(f"each trial reserves {trial_cpus} CPU(s) but the Ray instance has {available:g}; "
                              "lower --threads-per-trial or give Ray more CPUs (--cpus, or more nodes)")
        yield
    finally:
        # Disconnects from a cluster (which keeps running) or stops the local instance.
        ray.shutdown()
