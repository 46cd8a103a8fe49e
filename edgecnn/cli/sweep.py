"""``edgecnn sweep``: train many configurations at once on Ray Tune and compare them in one table."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, List, Optional

import typer

from edgecnn.cli import app
from edgecnn.cli.console import print_table, stderr, user_errors
from edgecnn.cli.train import DatasetId, PresetName
from edgecnn.errors import ConfigError
from edgecnn.sweep.options import METRICS, SweepOptions
from edgecnn.training.config import DEFAULT_PRESET

DEFAULTS = SweepOptions()

Metric = enum.Enum("Metric", {name: name for name in METRICS}, type=str)


class Mode(str, enum.Enum):
    max = "max"
    min = "min"


@app.command()
def sweep(
    space_file: Annotated[Optional[Path], typer.Option(
        "--space", exists=True, dir_okay=False, show_default=False,
        help="YAML or JSON search space: 'parameters' mapping field paths to a list (grid) or to "
             "{grid|choice|uniform|loguniform: [...]}, and optional 'samples'.")] = None,
    grid: Annotated[Optional[List[str]], typer.Option(
        help="Grid dimension PATH=V1,V2,... over a TrainConfig field, e.g. seed=0,1,2 or "
             "stage1.max_epochs=5,10; repeatable.", show_default=False)] = None,
    choice: Annotated[Optional[List[str]], typer.Option(
        help="Random choice PATH=V1,V2,... drawn once per sample; repeatable.", show_default=False)] = None,
    uniform: Annotated[Optional[List[str]], typer.Option(
        help="Random number PATH=LOW,HIGH, bounds included; repeatable.", show_default=False)] = None,
    loguniform: Annotated[Optional[List[str]], typer.Option(
        help="Random number PATH=LOW,HIGH drawn on a log scale, e.g. stage1.learning_rate=1e-4,1e-2; "
             "repeatable.", show_default=False)] = None,
    samples: Annotated[Optional[int], typer.Option(
        min=1, help="Random draws per grid point (overrides the space file's 'samples').", show_default="1")] = None,
    config_file: Annotated[Optional[Path], typer.Option(
        "--config", exists=True, dir_okay=False, show_default=False,
        help="Base training configuration, JSON or YAML nested as a run's config.json; fields it leaves out "
             "keep the preset's recipe.")] = None,
    set_values: Annotated[Optional[List[str]], typer.Option(
        "--set", help="Fixed base value PATH=VALUE for every trial, e.g. stage2.schedule.fine-tune.epochs=3; "
                      "repeatable.", show_default=False)] = None,
    dataset: Annotated[Optional[DatasetId], typer.Option(help="Data set id.", show_default="mnist")] = None,
    preset: Annotated[Optional[PresetName], typer.Option(
        help="Recipe every trial starts from, as in `edgecnn train --preset`; with --config, the recipe under the "
             "file's fields.",
        show_default=DEFAULT_PRESET)] = None,
    data_dir: Annotated[Optional[Path], typer.Option(
        help="Folder with the data set files; must exist on every Ray node. Default: EDGECNN_DATA_DIR, "
             "else ~/.cache/edgecnn/datasets.", show_default=False)] = None,
    no_download: Annotated[bool, typer.Option("--no-download", help="Fail instead of downloading missing data "
                                              "set files (also set by EDGECNN_OFFLINE=1).")] = False,
    validation_size: Annotated[Optional[int], typer.Option(
        min=1, help="Training images held out for validation.", show_default="the preset's: 5000 for edge, 10000 for "
                                                                     "paper")] = None,
    train_limit: Annotated[Optional[int], typer.Option(min=1, help="Train on only this many images.",
                                                       show_default="all")] = None,
    test_limit: Annotated[Optional[int], typer.Option(min=1, help="Test on only the first N test images.",
                                                      show_default="all")] = None,
    threads_per_trial: Annotated[int, typer.Option(
        min=1, help="Torch threads of each trial, reserved as that many Ray CPUs so trials never share a core.")] = (
        DEFAULTS.threads_per_trial),
    cpus: Annotated[Optional[int], typer.Option(
        min=1, help="CPUs of the local Ray instance (trials run in parallel up to CPUS / threads per trial).",
        show_default="all cores")] = None,
    address: Annotated[Optional[str], typer.Option(
        help="Join the Ray cluster at HOST:PORT (see `ray start --head`) instead of starting a local one.",
        show_default=False)] = None,
    metric: Annotated[Metric, typer.Option(help="Objective that picks the best trial.")] = Metric(
        DEFAULTS.metric),
    mode: Annotated[Optional[Mode], typer.Option(
        help="Whether the objective is maximized or minimized.", show_default="max, min for latency")] = None,
    asha: Annotated[bool, typer.Option("--asha", help="Stop weak trials early (ASHA) on per-epoch validation "
                                       "accuracy.")] = DEFAULTS.asha,
    asha_grace_epochs: Annotated[int, typer.Option(min=1, help="Epochs every trial runs before ASHA may stop it.")] = (
        DEFAULTS.asha_grace_epochs),
    asha_reduction_factor: Annotated[int, typer.Option(min=2, help="ASHA keeps about 1/N of the trials at each "
                                                       "rung.")] = DEFAULTS.asha_reduction_factor,
    export_int8: Annotated[bool, typer.Option("--export-int8", help="Export each trained model to an int8 "
                                              "artifact.")] = DEFAULTS.export_int8,
    bench: Annotated[bool, typer.Option("--bench", help="Benchmark each int8 artifact (latency, "
                                        "accuracy).")] = DEFAULTS.bench,
    max_failures: Annotated[int, typer.Option(min=0, help="Retries of a failed trial before it is reported as "
                                              "failed.")] = DEFAULTS.max_failures,
    project: Annotated[Path, typer.Option(help="Parent folder of sweep directories.")] = Path("runs/sweep"),
    name: Annotated[Optional[str], typer.Option(help="Sweep directory name.", show_default="DATASET")] = None,
    resume: Annotated[Optional[Path], typer.Option(
        help="Continue the interrupted sweep in this sweep directory with its saved space and options "
             "(--cpus and --address may change).", show_default=False)] = None,
) -> None:
    """Train many configurations at once on Ray Tune (grid or random search) and compare them."""
    with user_errors():
        from edgecnn.sweep.tuner import create_sweep, run_sweep

        if resume is not None:
            outcome = run_sweep(resume, resume=True, cpus=cpus, address=address)
        else:
            search_space = _build_space(space_file, grid, choice, uniform, loguniform, samples)
            base = _build_base(config_file, set_values, dataset, preset, data_dir, no_download,
                               validation_size, train_limit, test_limit)
            options = SweepOptions(
                metric=metric.value, mode=None if mode is None else mode.value,
                threads_per_trial=threads_per_trial, cpus=cpus, address=address, asha=asha,
                asha_grace_epochs=asha_grace_epochs, asha_reduction_factor=asha_reduction_factor,
                export_int8=export_int8, bench=bench, max_failures=max_failures)
            sweep_dir = create_sweep(base, search_space, options, project, name)  # logs the directory
            outcome = run_sweep(sweep_dir)
        _print_outcome(outcome)


def _build_space(space_file, grid, choice, uniform, loguniform, samples):
    """Merge the space file's dimensions with the command-line ones, which replace a file dimension of the same path."""
    from edgecnn.sweep.space import SearchSpace, load_space_file, parse_assignment

    search_space = load_space_file(space_file) if space_file is not None else SearchSpace()
    command_line = [(kind, text) for kind, texts in (("grid", grid), ("choice", choice), ("uniform", uniform),
                                                       ("loguniform", loguniform)) for text in texts or []]
    for kind, text in command_line:
        dimension = parse_assignment(text, kind)
        search_space.dimensions = [d for d in search_space.dimensions if d.path != dimension.path]
        search_space.dimensions.append(dimension)
    if samples is not None:
        search_space.samples = samples
    return search_space


def _build_base(config_file, set_values, dataset, preset, data_dir, no_download, validation_size, train_limit,
                test_limit):
    """Merge the preset's recipe or --config, then --set and the data options, in that order of precedence."""
    from edgecnn.sweep.space import read_config_file, set_path
    from edgecnn.training.config import TrainConfig, default_config

    if config_file is not None:
        base = read_config_file(config_file, dataset.value if dataset is not None else None,
                                preset.value if preset is not None else None)
    else:
        base = default_config(dataset.value if dataset is not None else TrainConfig().dataset,
                              preset.value if preset is not None else DEFAULT_PRESET)
    for text in set_values or []:
        path, equals, value = text.partition("=")
        if not equals or not path.strip():
            raise ConfigError(f"invalid --set '{text}'; write PATH=VALUE, e.g. --set stage1.max_epochs=5")
        set_path(base, path.strip(), value.strip())
    if dataset is not None:
        base.dataset = dataset.value
    if data_dir is not None:
        base.data_dir = str(data_dir.resolve())
    if no_download:
        base.allow_download = False
    for field_name, value in (("validation_size", validation_size), ("train_limit", train_limit),
                              ("test_limit", test_limit)):
        if value is not None:
            setattr(base, field_name, value)
    return base


def _print_outcome(outcome) -> None:
    """Print the table and summary on stderr, and the best trial's run directory alone on stdout for scripts."""
    from rich.table import Table

    from edgecnn.sweep.report import table

    report = outcome.report
    headers, cells = table(report, outcome.options)
    # Errors are listed under the table, where a long message does not squeeze the columns.
    visible = [index for index, header in enumerate(headers) if header != "error"]
    rich_table = Table(title=f"{len(report.rows)} trial(s), objective {report.metric_key} ({report.mode})")
    for index in visible:
        rich_table.add_column(headers[index], overflow="fold")
    for row, row_cells in zip(report.rows, cells):
        rich_table.add_row(*[row_cells[i] for i in visible], style="bold green" if row is report.best else None)
    print_table(rich_table)
    for row in report.rows:
        if row["error"]:
            stderr.print(f"trial {row['trial_id']} failed: {row['error']}", markup=False, highlight=False)

    counts = ", ".join(f"{count} {status}" for status, count in report.counts().items() if count)
    stderr.print(f"trials: {counts}")
    for kind, path in outcome.files.items():
        stderr.print(f"{kind}: {path}")
    if report.counts()["pending"] or (report.counts()["stopped"] and not outcome.options.asha):
        stderr.print(f"some trials did not finish; continue them with: edgecnn sweep --resume {outcome.sweep_dir}")
    if report.best is None:
        hint = (f"see the error column in {outcome.files['markdown']}" if report.counts()["failed"]
                else f"continue with: edgecnn sweep --resume {outcome.sweep_dir}")
        raise ConfigError(f"no trial finished, so there is no best trial; {hint}")
    stderr.print(f"best trial {report.best['trial_id']}: {report.metric_key} {report.best[report.metric_key]}, "
                 f"test accuracy {report.best['test_accuracy']}%")
    typer.echo(report.best["run_dir"])
