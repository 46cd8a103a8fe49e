"""`edgecnn train` through Typer's test runner: a tiny real run, help text and one-line errors."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from edgecnn import __version__
from edgecnn.cli import app
from edgecnn.cli.console import LineProgress

runner = CliRunner()

TINY = ["--train-limit", "600", "--validation-size", "200", "--test-limit", "200", "--stage1-epochs", "1",
        "--fine-tune-epochs", "1", "--threads", "1"]


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_shows_defaults_and_units():
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    # The default preset's MNIST recipe, from default_config.
    assert "[default: edge]" in result.output
    # Options that each recipe sets show every preset's value, from default_config.
    assert "[default: (edge: 20, 40 for cifar10 and folder; paper: 20)]" in result.output  # stage-1 epochs
    assert "[default: (edge: 5000; paper: 10000)]" in result.output  # validation size
    assert "pixels" in result.output


@pytest.mark.parametrize("command", [[], ["train"], ["export"], ["bench"], ["predict"], ["sweep"]])
def test_help_flags_have_no_value_label(command):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--help" in result.output
    assert "<bool>" not in result.output


@pytest.mark.parametrize("command, label", [(["predict"], "<path>..."), (["bench"], "<path>..."),
                                            (["sweep"], "<str>")])
def test_help_list_labels_name_element_type(command, label):
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert label in result.output
    assert "<list[" not in result.output


def test_train_tiny_run_then_resume_rejected(tmp_path, data_dir):
    args = ["train", "--dataset", "fashion-mnist", "--data-dir", str(data_dir), "--project", str(tmp_path),
            *TINY]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    # Without --preset, the edge recipe for Fashion-MNIST: its batch size and crops.
    final = tmp_path / "fashion-mnist-edge" / "checkpoints" / "final.pt"
    assert final.is_file()
    assert str(final) in result.stdout
    results = json.loads((tmp_path / "fashion-mnist-edge" / "results.json").read_text())
    assert results["dataset"] == "fashion-mnist"
    saved = json.loads((tmp_path / "fashion-mnist-edge" / "config.json").read_text())
    assert saved["stage1"]["batch_size"] == 128
    assert saved["augment"]["crop_padding_px"] == 2
    # Output captured to a file or pipe is plain lines: no progress bar remains, no padding to a width.
    log_lines = result.stderr.splitlines()
    assert any(line.startswith("stage 1 epoch 1/1: loss") for line in log_lines)
    assert all(line.strip() for line in log_lines)
    assert all(line == line.rstrip() for line in log_lines)

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert (tmp_path / "fashion-mnist-edge-2" / "results.json").is_file()

    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "fashion-mnist-edge")])
    assert resumed.exit_code == 2
    assert "already finished" in resumed.output

    # A resumed run uses its saved configuration, so an option beside --resume is an error, not ignored.
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "fashion-mnist-edge"), "--train-limit", "9"])
    assert resumed.exit_code == 2
    assert "--train-limit would be ignored" in resumed.output


def test_config_file_sets_schedule(tmp_path, data_dir):
    config = {"preset": "paper", "stage2": {"batch_size": 64, "schedule": [
        {"name": "all", "trainable": ["head", "conv_heads", "conv2", "conv1"], "epochs": 1}]}}
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    result = runner.invoke(app, ["train", "--data-dir", str(data_dir), "--project", str(tmp_path),
                                 "--name", "custom", "--config", str(config_path), *TINY])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "custom" / "config.json").read_text())
    assert [step["name"] for step in saved["stage2"]["schedule"]] == ["all"]
    assert saved["stage2"]["batch_size"] == 64
    assert saved["stage1"]["max_epochs"] == 1  # the command line wins over the file
    assert saved["preset"] == "paper"
    assert saved["stage1"]["optimizer"] == "nadam"  # the rest is the paper recipe


@pytest.mark.parametrize("args, message", [
    (["--data-dir", "{tmp}/empty", "--no-download"], "not found under"),
    (["--channels", "2"], "invalid --channels 2"),
    (["--channels", "3"], "--channels applies to --dataset folder only"),
    (["--dataset", "cifar10", "--image-size", "64"], "--image-size applies to --dataset folder only"),
    (["--batch-size", "0"], "invalid --batch-size 0"),
    (["--resume", "{tmp}"], "is not a run directory"),
    (["--config", "{tmp}/bad.json"], "invalid JSON"),
    (["--validation-size", "70000"], "leaves no training images"),
])
def test_bad_input_is_one_line_error(tmp_path, data_dir, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.json").write_text("{not json")
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    if "--data-dir" not in args:
        args += ["--data-dir", str(data_dir)]
    result = runner.invoke(app, ["train", "--project", str(tmp_path / "runs"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) <= 2  # the run directory line, then the error
    assert not (tmp_path / "runs").exists()  # neither the run directory nor the project folder it made is left


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "imagenet"],
     "error: invalid value for '--dataset': 'imagenet' is not one of 'mnist', 'fashion-mnist', 'cifar10', "
     "'folder'; see 'edgecnn train --help'"),
    (["train", "--threads", "two"], "error: invalid --threads two: it should be a valid integer"),
    (["train", "--threads", "-2"], "error: invalid --threads -2: it should be greater than or equal to 1; see "),
    (["train", "--bogus", "3"], "error: no such option: --bogus; see 'edgecnn train --help'"),
    (["export"], "error: missing argument 'SOURCE'; see 'edgecnn export --help'"),
    (["deploy"], "error: no such command 'deploy'; see 'edgecnn --help'"),
    (["trian"], "error: no such command 'trian'; did you mean 'train'? See 'edgecnn --help'"),
])
def test_bad_command_line_is_one_line_error(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.startswith(message)
    assert len(result.output.strip().splitlines()) == 1


def test_project_under_file_is_one_line_error(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    result = runner.invoke(app, ["train", "--project", str(blocker / "runs"), "--no-download"])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {blocker / 'runs'}: not a directory; pass another path")
    assert len(result.output.strip().splitlines()) == 1


def test_bare_command_prints_help():
    result = runner.invoke(app, [])
    assert "train" in result.output
    assert "export" in result.output
    assert "error:" not in result.output


def test_sigterm_stops_training_resumably(tmp_path, data_dir):
    # A real process, because the signal handler only exists in the command's main thread.
    command = [sys.executable, "-m", "edgecnn", "train", "--dataset", "mnist", "--data-dir", str(data_dir),
               "--project", str(tmp_path), "--name", "stopped", "--train-limit", "20000", "--validation-size",
               "200", "--stage1-epochs", "50", "--threads", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        if line.startswith("run directory:"):
            break
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)

    # The signal arrives long before the first epoch of 19,800 images ends at 1 thread.
    assert process.returncode == 128 + signal.SIGTERM
    assert (f"interrupted before the first epoch ended, so no epoch was saved; start it again with: "
            f"edgecnn train --resume {tmp_path / 'stopped'}") in stderr
    assert "Traceback" not in stderr


def test_line_progress_reports_within_epoch(caplog):
    # Redirected output gets a line on the epoch's progress instead of a bar. An interval of 0
    # reports every batch but the last, because the epoch's own line follows it.
    progress = LineProgress(interval_s=0.0)
    with caplog.at_level(logging.INFO, logger="edgecnn"):
        progress.epoch_started("stage 1 epoch 2", total_batches=3)
        for _ in range(3):
            progress.batch_finished()
        progress.epoch_finished()
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(", ")[0] for line in lines] == ["stage 1 epoch 2: 1/3 batches", "stage 1 epoch 2: 2/3 batches"]
    assert all(line.endswith(" s") for line in lines)


def test_redirected_table_keeps_rows_whole(capsys):
    from rich.table import Table

    from edgecnn.cli.console import print_table

    table = Table()
    for number in range(10):
        table.add_column(f"column {number}", overflow="fold")
    table.add_row(*[f"cell-{number}-of-the-row" for number in range(10)])
    print_table(table)
    lines = capsys.readouterr().err.splitlines()
    assert any("cell-0-of-the-row" in line and "cell-9-of-the-row" in line for line in lines)
