"""One trial, as Ray Tune runs it in a worker: an ordinary training run, then the optional int8 steps.

Each trial's run directory is ``<sweep dir>/trials/<trial id>``. Ray Tune keeps a trial's
id when it restores an interrupted sweep, so a restarted trial finds its run directory
and training resumes from the last saved epoch instead of starting over.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from edgecnn.errors import ConfigError
from edgecnn.sweep import int8, space
from edgecnn.training import rundir
from edgecnn.training.config import TrainConfig

log = logging.getLogger(__name__)

TRIALS_DIR = "trials"
TRIAL_LOG_FILE = "train.log"
FINISHED_KEY = "training_finished"  # set in a trial's last report only


def run_trial(overrides: dict[str, Any], spec: dict) -> None:
    """The Ray Tune function trainable: train with base config + overrides and report the results.

    spec contains the sweep's base configuration, the sweep directory and the int8 options.
    Its paths are absolute, because Ray Tune runs each trial in its own working directory.
    Reports one result per epoch (for ASHA) and a final one with FINISHED_KEY set.
    """
    from ray import tune

    trial_id = tune.get_context().get_trial_id()
    config = space.apply(TrainConfig.from_dict(spec["base_config"]), overrides)
    config.validate()
    run_dir = prepare_run_dir(Path(spec["sweep_dir"]) / TRIALS_DIR, trial_id, config)

    handler = _log_to_file(run_dir / TRIAL_LOG_FILE)
    try:
        results = train_or_read(run_dir, lambda record: tune.report(epoch_metrics(record)))
        metrics = final_metrics(run_dir, results)
        if spec["export_int8"]:
            metrics.update(int8.export_int8(run_dir, config.data_dir, config.test_limit))
            if spec["bench"]:
                artifact = Path(metrics["int8_artifact"])
                metrics.update(int8.benchmark_int8(artifact, config.threads, config.data_dir, config.test_limit))
    finally:
        logging.getLogger("edgecnn").removeHandler(handler)
        handler.close()
    tune.report(metrics)


def prepare_run_dir(trials_dir: Path, trial_id: str, config: TrainConfig) -> Path:
    """Return the trial's run directory, creating it for a new trial and checking it for a restarted one."""
    from edgecnn.training.run import start_run

    run_dir = trials_dir / trial_id
    saved = run_dir / rundir.CONFIG_FILE
    if not saved.is_file():
        return start_run(config, trials_dir, trial_id, exist_ok=True)
    if json.loads(saved.read_text()) != config.to_dict():
        raise ConfigError(f"{run_dir} contains a run with a configuration other than trial {trial_id}'s; "
                          "move that directory away and resume the sweep again")
    log.info("trial %s: continuing the run in %s", trial_id, run_dir)
    return run_dir


def train_or_read(run_dir: Path, on_epoch) -> dict:
    """Train (or resume) the run in run_dir, or read its results if it has already finished."""
    from edgecnn.training.run import train

    results_path = run_dir / rundir.RESULTS_FILE
    if results_path.is_file():
        return json.loads(results_path.read_text())
    return train(run_dir, on_epoch=on_epoch).results


def epoch_metrics(record: dict) -> dict:
    """Build one epoch's report with the validation accuracy in percent.

    Stage 1 has no single model yet, so its figure is the best of its branches
    (all see the original validation images).
    """
    if record["stage"] == 1:
        accuracy = max(value for key, value in record.items() if key.startswith("val_accuracy_"))
    else:
        accuracy = record["val_accuracy"]
    return {"val_accuracy": round(100 * accuracy, 4), "stage": record["stage"], "step": record["step"],
            "epoch": record["epoch"], FINISHED_KEY: False}


def final_metrics(run_dir: Path, results: dict) -> dict:
    """Build the trial's last report: the run's results without the nested environment record."""
    metrics = {key: value for key, value in results.items() if not isinstance(value, dict)}
    metrics["epochs"] = sum(results["epochs"].values())
    metrics["run_dir"] = str(run_dir)
    metrics[FINISHED_KEY] = True
    return metrics


def _log_to_file(path: Path) -> logging.Handler:
    """Send the trial's edgecnn log messages to a file in its run directory (Ray workers have no console)."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("edgecnn")
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler
