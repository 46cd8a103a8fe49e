"""``edgecnn train``: train the two-stage model on a data set and write a run directory."""

from __future__ import annotations

import enum
import json
import shutil
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from edgecnn import fileio
from edgecnn.cli import app
from edgecnn.cli.console import (BarProgress, LineProgress, interrupt_exit_code, sigterm_as_interrupt, stderr,
                                 user_errors)
from edgecnn.errors import ConfigError, EdgecnnError, require
from edgecnn.training.config import DEFAULT_PRESET, METHODS, TrainConfig, default_config
from edgecnn.training.rundir import CHECKPOINT_DIR, LAST_CHECKPOINT

# The default preset's recipe for MNIST. Another preset or data set has its own recipe, which
# sets every option not given on the command line, and help lists the values that differ.
DEFAULTS = default_config("mnist", DEFAULT_PRESET)


class DatasetId(str, enum.Enum):
    mnist = "mnist"
    fashion_mnist = "fashion-mnist"
    cifar10 = "cifar10"
    folder = "folder"


class PresetName(str, enum.Enum):
    paper = "paper"
    edge = "edge"


MethodName = enum.Enum("MethodName", {name.replace("-", "_"): name for name in METHODS}, type=str)


def _recipe_default(field: Callable[[TrainConfig], object]) -> str:
    """Describe an option's default in every preset's recipe, e.g. 'edge: 20, 40 for cifar10 and folder; paper: 20'."""
    parts = []
    presets = sorted(PresetName, key=lambda preset: preset.value != DEFAULT_PRESET)  # the default preset first
    for preset in presets:
        values = {dataset.value: field(default_config(dataset.value, preset.value)) for dataset in DatasetId}
        others: dict[object, list[str]] = {}
        for dataset, value in values.items():
            if value != values["mnist"]:
                others.setdefault(value, []).append(dataset)
        text = f"{preset.value}: {values['mnist']}"
        for value, datasets in others.items():
            text += f", {value} for {' and '.join(datasets)}"
        parts.append(text)
    return "; ".join(parts)


@app.command()
def train(
    context: typer.Context,
    dataset: Annotated[DatasetId, typer.Option(help="Data set id.")] = DatasetId(DEFAULTS.dataset),
    preset: Annotated[PresetName, typer.Option(help="Architecture and training recipe: edge (batch norm, "
                                               "separable convolutions, one-cycle) or paper (the reference "
                                               "model, reproduced faithfully). Each has a recipe per data "
                                               "set; options that recipes set show every default.")] = PresetName(
        DEFAULTS.preset),
    method: Annotated[MethodName, typer.Option(
        help="two-stage (the paper's method), or for ablations: single-branch (the augmented branch alone, "
             "no stage 2) or plain-fine-tune (stage 2 in one step, nothing frozen).")] = MethodName(
        DEFAULTS.method),
    data_dir: Annotated[Optional[Path], typer.Option(
        help="Folder with the data set files (or, for 'folder', the image folder). "
             "Default: EDGECNN_DATA_DIR, else ~/.cache/edgecnn/datasets.", show_default=False)] = None,
    no_download: Annotated[bool, typer.Option("--no-download", help="Fail instead of downloading missing "
                                              "data set files (also set by EDGECNN_OFFLINE=1).")] = False,
    seed: Annotated[int, typer.Option(help="Seed of initialisation, shuffling, augmentation and dropout.")] = (
        DEFAULTS.seed),
    threads: Annotated[Optional[int], typer.Option(min=1, help="Torch CPU threads; results are reproducible for a "
                                                   "given count.", show_default="all cores")] = None,
    image_size: Annotated[int, typer.Option(help="Input side in pixels; 'folder' only, the others are fixed.")] = (
        DEFAULTS.image_size),
    channels: Annotated[int, typer.Option(help="Input channels, 1 or 3; 'folder' only.")] = DEFAULTS.channels,
    stage1_epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs of stage 1 (early stopping may end it "
                                               "sooner).", show_default=_recipe_default(
                                                   lambda config: config.stage1.max_epochs))] = (
        DEFAULTS.stage1.max_epochs),
    fine_tune_epochs: Annotated[int, typer.Option(min=1, help="Maximum epochs of the last stage-2 step, which trains "
                                                  "every layer.", show_default=_recipe_default(
                                                      lambda config: config.stage2.schedule[-1].epochs))] = (
        DEFAULTS.stage2.schedule[-1].epochs),
    batch_size: Annotated[int, typer.Option(min=1, help="Training batch size in images, both stages.",
                                            show_default=_recipe_default(lambda config: config.stage1.batch_size))] = (
        DEFAULTS.stage1.batch_size),
    validation_size: Annotated[int, typer.Option(min=1, help="Training images held out for validation (the first "
                                                 "ones).", show_default=_recipe_default(
                                                     lambda config: config.validation_size))] = (
        DEFAULTS.validation_size),
    train_limit: Annotated[Optional[int], typer.Option(min=1, help="Train on only this many images, taken after the "
                                                       "validation images (for quick trials).",
                                                       show_default="all")] = None,
    test_limit: Annotated[Optional[int], typer.Option(min=1, help="Test on only the first N test images.",
                                                      show_default="all")] = None,
    brightness: Annotated[float, typer.Option(help="Maximum brightness change of the augmented copy, as a "
                                              "fraction of the [0, 1] range; 0 turns it off.")] = (
        DEFAULTS.augment.brightness),
    config_file: Annotated[Optional[Path], typer.Option(
        "--config", exists=True, dir_okay=False,
        help="JSON (or, with the sweep extra, YAML) file of TrainConfig fields nested as in a run's config.json, "
             "e.g. {\"stage1\": {\"max_epochs\": 5}}. Fields it leaves out keep the preset's recipe; options "
             "given on the command line take precedence.", show_default=False)] = None,
    project: Annotated[Path, typer.Option(help="Parent folder of run directories.")] = Path("runs/train"),
    name: Annotated[Optional[str], typer.Option(help="Run directory name.", show_default="DATASET-PRESET, plus -METHOD for an ablation")] = None,
    exist_ok: Annotated[bool, typer.Option("--exist-ok", help="Reuse an unfinished run directory of the same "
                                           "name instead of creating NAME-2, NAME-3, ...")] = False,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the interrupted run in this run directory; "
                                                   "its saved configuration is used.", show_default=False)] = None,
) -> None:
    """Train the dual-input-output CNN (stage 1) and its unified model (stage 2)."""
    options = {k: v for k, v in locals().items() if k not in ("context", "project", "name", "exist_ok", "resume")}
    with user_errors():
        require("torch", "train", "edgecnn train")
        from edgecnn.training.run import load_run_config, start_run
        from edgecnn.training.run import train as run_training

        if resume is not None:
            load_run_config(resume)  # fails here, before anything is printed, on a path that is no run
            _reject_options_beside_resume(context, resume)
            run_dir, created = resume, False
        else:
            config = _build_config(context, **options)
            new_folder = fileio.outermost_missing(project)
            run_dir, created = start_run(config, project, name, exist_ok), True
        try:
            with sigterm_as_interrupt():
                typer.echo(f"run directory: {run_dir}", err=True)
                # A bar is for a person watching. In a log file it would leave only blank lines, so
                # a line on the epoch every 30 s takes its place.
                result = run_training(run_dir, BarProgress() if stderr.is_terminal else LineProgress())
        except KeyboardInterrupt as stop:
            if (run_dir / CHECKPOINT_DIR / LAST_CHECKPOINT).exists():
                typer.echo(f"interrupted; continue with: edgecnn train --resume {run_dir}", err=True)
            else:
                typer.echo(f"interrupted before the first epoch ended, so no epoch was saved; start it again "
                           f"with: edgecnn train --resume {run_dir}", err=True)
            raise typer.Exit(interrupt_exit_code(stop)) from None
        except EdgecnnError:
            # A run that failed before its first epoch (missing data, say) contains nothing worth keeping.
            if created and not (run_dir / "checkpoints").exists():
                shutil.rmtree(run_dir)
                fileio.remove_empty_folders(project, up_to=new_folder)
            raise
        typer.echo(str(result.run_dir / "checkpoints" / "final.pt"))


def _given(context: typer.Context, option: str) -> bool:
    """Return whether OPTION was set on the command line rather than left at its default."""
    # Compared by name: Typer may carry its own copy of click's ParameterSource enum.
    source = getattr(context.get_parameter_source(option), "name", None)
    return source not in ("DEFAULT", None)


def _reject_options_beside_resume(context: typer.Context, run_dir: Path) -> None:
    """Raise ConfigError when an option besides --resume is given, since a resumed run ignores them all."""
    ignored = [f"--{name.replace('_', '-')}" for name in context.params if name != "resume" and _given(context, name)]
    if ignored:
        them = "them" if len(ignored) > 1 else "it"
        raise ConfigError(f"--resume continues {run_dir} with its saved configuration, so {', '.join(ignored)} "
                          f"would be ignored; drop {them}, or start a new run without --resume")


def _build_config(context: typer.Context, config_file: Path | None, **options) -> TrainConfig:
    """Merge the preset's recipe, an optional JSON file and the command-line options, in that order of precedence."""
    def given(option: str) -> bool:
        # The defaults shown in --help are one recipe's, so only options set on the command line apply.
        return _given(context, option)

    if config_file is not None:
        from edgecnn.sweep.space import read_config_file

        # The file's fields are laid over the recipe of its data set and preset, which
        # --dataset and --preset override.
        config = read_config_file(config_file, options["dataset"].value if given("dataset") else None,
                                  options["preset"].value if given("preset") else None)
    else:
        config = default_config(options["dataset"].value, options["preset"].value)

    simple = {"dataset": "dataset", "preset": "preset", "method": "method", "seed": "seed",
              "validation_size": "validation_size",
              "train_limit": "train_limit", "test_limit": "test_limit", "image_size": "image_size",
              "channels": "channels"}
    for option, field_name in simple.items():
        if given(option):
            value = options[option]
            setattr(config, field_name, value.value if isinstance(value, enum.Enum) else value)
    if options["data_dir"] is not None:
        config.data_dir = str(options["data_dir"].resolve())
    if options["no_download"]:
        config.allow_download = False
    if options["threads"] is not None:
        config.threads = options["threads"]
    if given("stage1_epochs"):
        config.stage1.max_epochs = options["stage1_epochs"]
    if given("fine_tune_epochs"):
        config.stage2.schedule[-1].epochs = options["fine_tune_epochs"]
    if given("batch_size"):
        config.stage1.batch_size = config.stage2.batch_size = options["batch_size"]
    if given("brightness"):
        config.augment.brightness = options["brightness"]
    # The configuration's own checks name fields. A value from the command line is reported
    # by its option instead.
    if given("channels") and config.channels not in (1, 3):
        raise ConfigError(f"invalid --channels {config.channels}; use 1 (grayscale) or 3 (RGB)")
    if given("image_size") and config.image_size < 8:
        raise ConfigError(f"invalid --image-size {config.image_size}; use 8 pixels or more")
    # The built-in data sets have one input shape each, and the loader ignores these options for them.
    for option, flag in (("channels", "--channels"), ("image_size", "--image-size")):
        if given(option) and config.dataset != "folder":
            raise ConfigError(f"{flag} applies to --dataset folder only, and {config.dataset} images have a "
                              f"fixed shape; drop {flag}")
    return config
