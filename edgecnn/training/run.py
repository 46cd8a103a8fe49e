"""One training run from data to final checkpoint: stage 1, stage 2, test evaluation and reports."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from edgecnn import environment, fileio
from edgecnn.data import Dataset, load_dataset
from edgecnn.errors import CheckpointError, ConfigError
from edgecnn.nets import get_preset
from edgecnn.nets.stats import count_macs, count_parameters
from edgecnn.training import checkpoint, rundir, stage1, stage2
from edgecnn.training.config import TrainConfig
from edgecnn.training.context import TrainingContext
from edgecnn.training.loop import InputPipeline, NoProgress, Progress, SplitTensors, epoch_seed, evaluate

log = logging.getLogger(__name__)

# Kinds of final checkpoint: the unified model of stage 2, or one stage-1 branch.
ARCHITECTURE_UNIFIED = "unified"
ARCHITECTURE_BRANCH = "branch"


@dataclass
class RunResult:
    run_dir: Path
    results: dict


def start_run(config: TrainConfig, project: Path, name: str | None = None, exist_ok: bool = False) -> Path:
    """Create a run directory for config and save the resolved configuration in it."""
    config.validate()
    # An ablation's run is named for its method, so it is never mistaken for the full method's.
    default_name = f"{config.dataset}-{config.preset}"
    if config.method != "two-stage":
        default_name += f"-{config.method}"
    run_dir = rundir.new_run_dir(Path(project), name or default_name, exist_ok)
    fileio.write_json(run_dir / rundir.CONFIG_FILE, config.to_dict())
    return run_dir


def load_run_config(run_dir: Path) -> TrainConfig:
    path = run_dir / rundir.CONFIG_FILE
    if run_dir.is_file() and (run_dir.parent / rundir.CONFIG_FILE).is_file():
        raise CheckpointError(f"{run_dir} is a file of a run; pass its run directory, {run_dir.parent}")
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory ({rundir.CONFIG_FILE} not found); "
                              "pass the directory that `edgecnn train` created")
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: invalid JSON ({error})") from None
    return TrainConfig.from_dict(values)


def train(run_dir: Path, progress: Progress | None = None,
          on_epoch: Callable[[dict], None] | None = None) -> RunResult:
    """Train (or resume) the run whose configuration is saved in run_dir, and return its results.

    on_epoch, if given, receives each epoch's history record after its checkpoint is saved,
    so a caller such as a sweep scheduler may stop the run there and resume it later.
    """
    run_dir = Path(run_dir)
    if (run_dir / rundir.RESULTS_FILE).exists():
        raise ConfigError(f"{run_dir} has already finished; start a new run instead of resuming it")
    config = load_run_config(run_dir)
    config.validate()
    # The commit and versions of the code this process runs. Read at the end instead, they would
    # name whatever the checkout held by then, often a later commit than the one that trained.
    started_environment = environment.describe()
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    preset = get_preset(config.preset)

    splits = load_splits(config)
    train_split, validation, test_split = splits.train, splits.validation, splits.test
    channels, side, num_classes = splits.channels, splits.side, len(splits.classes)
    pipeline = InputPipeline(preset, channels, config.channels_last)
    ctx = TrainingContext(config, preset, run_dir, train_split, validation, pipeline, progress or NoProgress(),
                          on_epoch=on_epoch)
    log.info("data: %s, %d training, %d validation and %d test images of %dx%dx%d", config.dataset,
             len(train_split), len(validation), len(test_split), side, side, channels)

    # Models: both branches start from the same seed-derived initial weights as on a fresh run.
    # The single-branch method builds both too, so its branch starts from the same weights.
    torch.manual_seed(config.seed)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    dual = stage1.DualBranchModel(preset.make_branch(channels, side, num_classes),
                                  preset.make_branch(channels, side, num_classes)).to(memory_format=memory_format)
    if config.method == "single-branch":
        dual = stage1.AugmentedBranchModel(dual.branch_augmented)
    resume = _read_resume_state(run_dir)
    if resume is not None:
        ctx.history = list(resume["history"])

    # Stage 1, unless a resumed run is already past it.
    stage1_path = run_dir / rundir.CHECKPOINT_DIR / rundir.STAGE1_CHECKPOINT
    if resume is None or resume["phase"] == stage1.PHASE:
        dual = stage1.run_stage1(ctx, dual, resume)
        checkpoint.save(stage1_path, {"phase": stage1.PHASE, "model": dual.state_dict(),
                                      "config": config.to_dict(), "history": ctx.history})
        resume = None
    else:
        dual.load_state_dict(checkpoint.load(stage1_path)["model"])

    # Stage 2: the unified model from both trained branches. The new head draws its initial
    # weights from the seed of the last stage-1 epoch, which is the global random state of a run
    # that was never interrupted, so a run resumed at the stage boundary builds the same head.
    # The single-branch method has no stage 2: its trained branch is the final model.
    if config.method == "single-branch":
        unified, architecture = dual.branch_augmented, ARCHITECTURE_BRANCH
    else:
        stage1_epochs = sum(record["stage"] == 1 for record in ctx.history)
        torch.manual_seed(epoch_seed(config.seed, 1, stage1_epochs))
        unified = preset.make_unified(dual.branch_original, dual.branch_augmented, num_classes)
        unified = unified.to(memory_format=memory_format)
        unified, architecture = stage2.run_stage2(ctx, unified, resume), ARCHITECTURE_UNIFIED

    # Test evaluation and reports.
    test_loss, test_accuracy = evaluate(unified, test_split, pipeline)
    val_loss, val_accuracy = evaluate(unified, validation, pipeline)
    results = _results(config, unified, ctx, channels, side, test_accuracy, val_accuracy, len(test_split),
                       started_environment)
    final = {
        "kind": "edgecnn-model", "preset": config.preset, "architecture": architecture,
        "dataset": config.dataset, "classes": splits.classes,
        "in_channels": channels, "image_size": side, "num_classes": num_classes,
        "normalization": {"scale": preset.scale, "mean": list(preset.mean), "std": list(preset.std)},
        "model": unified.state_dict(), "config": config.to_dict(), "epoch": len(ctx.history),
        "metrics": {"test_accuracy": results["test_accuracy"], "val_accuracy": results["val_accuracy"],
                    "test_images": len(test_split)},
    }
    checkpoint.save(run_dir / rundir.CHECKPOINT_DIR / rundir.FINAL_CHECKPOINT, final)
    try:
        from edgecnn.training.report import plot_curves

        plot_curves(ctx.history, run_dir / rundir.CURVES_FILE)
    except ImportError:
        log.warning("matplotlib is not installed, so %s was not drawn", rundir.CURVES_FILE)
    fileio.write_json(run_dir / rundir.RESULTS_FILE, results)
    log.info("test accuracy %.2f%% on %d images, %d parameters, %.0f s of training", results["test_accuracy"],
             len(test_split), results["params"], results["train_wall_seconds"])
    return RunResult(run_dir, results)


@dataclass
class Splits:
    """The images a run trains, selects and tests on, with their shape and class names."""

    train: SplitTensors
    validation: SplitTensors
    test: SplitTensors
    classes: Sequence[str]
    channels: int
    side: int  # image height and width in pixels


def load_splits(config: TrainConfig) -> Splits:
    """Load the configuration's data set and split it as every run does.

    The first validation_size training images are held out for validation, as in the
    reference notebook. train_limit and test_limit keep only the first images of the rest.
    """
    train_set = _load(config, "train")
    test_set = _load(config, "test")
    if len(train_set) <= config.validation_size:
        raise ConfigError(f"validation size {config.validation_size} leaves no training images out of "
                          f"{len(train_set)}; lower --validation-size")
    validation = SplitTensors.from_numpy(train_set.images[: config.validation_size],
                                         train_set.labels[: config.validation_size])
    train_end = None if config.train_limit is None else config.validation_size + config.train_limit
    train_split = SplitTensors.from_numpy(train_set.images[config.validation_size:train_end],
                                          train_set.labels[config.validation_size:train_end])
    test_split = SplitTensors.from_numpy(test_set.images[: config.test_limit], test_set.labels[: config.test_limit])
    return Splits(train_split, validation, test_split, train_set.classes,
                  channels=train_set.images.shape[3], side=train_set.images.shape[1])


def _load(config: TrainConfig, split: str) -> Dataset:
    return load_dataset(config.dataset, split, config.data_dir, config.allow_download,
                        image_size=(config.image_size, config.image_size), channels=config.channels, seed=config.seed)


def _read_resume_state(run_dir: Path) -> dict | None:
    path = run_dir / rundir.CHECKPOINT_DIR / rundir.LAST_CHECKPOINT
    return checkpoint.load(path) if path.exists() else None


def _results(config, model, ctx, channels, side, test_accuracy, val_accuracy, test_count, run_environment) -> dict:
    return {
        "dataset": config.dataset,
        "preset": config.preset,
        "method": config.method,
        "test_accuracy": round(100 * test_accuracy, 4),  # percent
        "test_images": test_count,
        "val_accuracy": round(100 * val_accuracy, 4),  # percent
        "params": count_parameters(model),
        "macs": count_macs(model, (channels, side, side)),
        "epochs": {"stage1": sum(r["stage"] == 1 for r in ctx.history),
                   "stage2": sum(r["stage"] == 2 for r in ctx.history)},
        "train_wall_seconds": round(sum(r["epoch_seconds"] for r in ctx.history), 1),
        "seed": config.seed,
        "threads": config.threads,
        "environment": run_environment,
    }
