"""`edgecnn sweep` on Ray Tune: search-space checks, a local sweep, a loopback cluster and reproducibility.

The Ray tests start real Ray instances: a local one through the command, and a
separate cluster with `ray start` in its own temporary folder, stopped by the process
ids found there. Select these tests with `pytest tests/test_sweep.py`; about 2-3 minutes
on 2 cores, most of it Ray and worker start-up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tiny import tiny_config
from edgecnn.cli import app

runner = CliRunner()
RAY = Path(sys.executable).parent / "ray"


def write_tiny_config(folder: Path, data_dir: Path) -> Path:
    path = folder / "tiny.json"
    path.write_text(json.dumps(tiny_config("mnist", data_dir).to_dict()))
    return path


def error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- Search space: no Ray needed ---

@pytest.mark.parametrize("args, expected", [
    (["--grid", "stage1.lr=1,2"], "unknown field 'stage1.lr': stage1 has no field 'lr'"),
    (["--grid", "seed=0,zero"], "invalid value 'zero' for seed: expected a whole number"),
    (["--grid", "dataset=mnist,imagenet"], "invalid value 'imagenet' for dataset: invalid dataset"),
    (["--uniform", "augment.fill=1,2"], "uniform needs a numeric field"),
    (["--loguniform", "stage1.learning_rate=0,0.1"], "both must be above 0"),
    (["--uniform", "augment.zoom=0.3,0.1"], "LOW must be below HIGH"),
    (["--grid", "stage2.schedule.9.epochs=1"], "index 9 is outside stage2.schedule"),
    (["--grid", "seed"], "invalid --grid 'seed'; write PATH=VALUE"),
])
def test_invalid_space_one_line_error(tmp_path, args, expected):
    result = runner.invoke(app, ["sweep", *args, "--project", str(tmp_path)])
    assert result.exit_code == 2
    line = error_line(result)
    assert line.startswith("error: ")
    assert expected in line
    assert not any(tmp_path.iterdir())  # nothing is created for an invalid space


def test_space_file_and_schedule_paths(tmp_path):
    from edgecnn.sweep import space
    from edgecnn.training.config import TrainConfig

    path = tmp_path / "space.yaml"
    path.write_text("samples: 2\nparameters:\n  seed: [0, 1]\n  stage1.learning_rate: {loguniform: [1e-4, 1e-2]}\n"
                    "  stage2.schedule.fine-tune.epochs: 3\n  augment.fill: {choice: [reflect, zeros]}\n")
    checked = space.validate(space.load_space_file(path), TrainConfig())
    assert checked.samples == 2
    assert checked.trial_count() == 4
    by_path = {d.path: d for d in checked.dimensions}
    assert by_path["stage1.learning_rate"].values == [1e-4, 1e-2]  # YAML reads 1e-4 as text
    config = space.apply(TrainConfig(), {"stage2.schedule.fine-tune.epochs": 3, "seed": "1"})
    assert config.stage2.schedule[-1].epochs == 3
    assert config.seed == 1
    assert TrainConfig().stage2.schedule[-1].epochs != 3  # apply works on a copy


def test_space_rejects_same_field_twice():
    from edgecnn.sweep import space
    from edgecnn.training.config import TrainConfig

    twice = space.SearchSpace([space.Dimension("stage2.schedule.-1.epochs", "grid", [1]),
                               space.Dimension("stage2.schedule.fine-tune.epochs", "grid", [2])])
    with pytest.raises(space.SearchSpaceError, match="searched twice"):
        space.validate(twice, TrainConfig())


def test_preset_recipe_is_the_base(tmp_path):
    from edgecnn.cli.sweep import _build_base
    from edgecnn.cli.train import DatasetId, PresetName
    from edgecnn.training.config import default_config

    base = _build_base(None, ["stage1.max_epochs=2"], DatasetId.fashion_mnist, PresetName.edge, None, False,
                       None, None, None)
    expected = default_config("fashion-mnist", "edge")
    expected.stage1.max_epochs = 2
    assert base == expected
    # The method grid of an ablation validates against that base.
    result = runner.invoke(app, ["sweep", "--preset", "edge", "--grid", "method=two-stage,one-branch",
                                 "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "invalid method 'one-branch'" in error_line(result)


def test_pareto_front():
    from edgecnn.sweep.plot import pareto_front

    points = [(100, 90.0), (200, 95.0), (150, 89.0), (100, 80.0), (300, 95.0)]
    assert pareto_front(points) == [0, 1]


def test_ray_missing_names_extra(tmp_path, data_dir):
    # A meta-path finder makes `import ray` fail as it does where the extra is not installed.
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'ray' or name.startswith('ray.'):\n"
        "            raise ModuleNotFoundError(f\"No module named '{name}'\", name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from edgecnn.cli import main\n"
        "main()\n"
    )
    config = write_tiny_config(tmp_path, data_dir)
    completed = subprocess.run(
        [sys.executable, "-c", blocker, "sweep", "--config", str(config), "--grid", "seed=0,1",
         "--project", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert completed.returncode == 2, completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, completed.stderr
    assert "pip install \"edgecnn[sweep]\"" in lines[0]
    assert "Traceback" not in completed.stderr


# --- A local Ray instance started by the command ---

@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory, data_dir):
    """A finished 2-trial grid (seed 0 and 1) on a local Ray instance with 2 CPUs, 1 thread per trial."""
    folder = tmp_path_factory.mktemp("sweep-local")
    config = write_tiny_config(folder, data_dir)
    result = runner.invoke(app, ["sweep", "--config", str(config), "--grid", "seed=0,1", "--cpus", "2",
                                 "--threads-per-trial", "1", "--project", str(folder / "runs"), "--name", "tiny"],
                           env={"EDGECNN_OFFLINE": "1"})
    return folder / "runs" / "tiny", result


@pytest.mark.slow
def test_local_sweep_writes_table(local_sweep):
    sweep_dir, result = local_sweep
    assert result.exit_code == 0, result.output
    summary = json.loads((sweep_dir / "results.json").read_text())
    assert summary["counts"]["finished"] == 2
    assert [row["seed"] for row in summary["trials"]] == [0, 1]
    best = max(summary["trials"], key=lambda row: row["val_accuracy"])
    assert summary["best_run_dir"] == best["run_dir"]
    assert result.stdout.strip() == best["run_dir"]
    assert best["test_accuracy"] is not None
    assert [row["test_accuracy"] for row in summary["trials"] if row is not best] == [None]
    for name in ("results.csv", "results.md", "pareto.png", "sweep.json"):
        assert (sweep_dir / name).is_file(), name
    assert len((sweep_dir / "results.csv").read_text().splitlines()) == 3  # header and 2 trials
    for row in summary["trials"]:
        assert (Path(row["run_dir"]) / "results.json").is_file()
        assert Path(row["run_dir"]).parent == sweep_dir / "trials"


@pytest.mark.slow
def test_sweep_exports_and_benchmarks_int8(tmp_path, data_dir):
    config = write_tiny_config(tmp_path, data_dir)
    result = runner.invoke(app, ["sweep", "--config", str(config), "--grid", "seed=0", "--cpus", "2",
                                 "--threads-per-trial", "1", "--export-int8", "--bench", "--metric", "latency",
                                 "--mode", "min", "--project", str(tmp_path / "runs"), "--name", "int8"],
                           env={"EDGECNN_OFFLINE": "1"})
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "runs" / "int8" / "results.json").read_text())["trials"][0]
    assert list(Path(row["run_dir"]).glob("*-int8.tflite"))
    assert 0 < row["int8_size_kib"] < 40
    assert 0 <= row["int8_accuracy"] <= 100
    assert row["latency_ms"] > 0


@pytest.mark.slow
def test_trial_equals_direct_training(local_sweep, tmp_path, data_dir):
    from edgecnn.training.run import start_run, train

    sweep_dir, result = local_sweep
    assert result.exit_code == 0, result.output
    summary = json.loads((sweep_dir / "results.json").read_text())
    trial_dir = Path(next(row["run_dir"] for row in summary["trials"] if row["seed"] == 0))
    trial_results = json.loads((trial_dir / "results.json").read_text())

    config = tiny_config("mnist", data_dir.resolve(), seed=0, threads=1)
    direct = train(start_run(config, tmp_path, "direct")).results

    assert json.loads((trial_dir / "config.json").read_text()) == config.to_dict()
    for key in ("val_accuracy", "test_accuracy", "params", "macs", "epochs"):
        assert trial_results[key] == direct[key], key
    trial_history = [json.loads(line) for line in (trial_dir / "metrics.jsonl").read_text().splitlines()]
    direct_history = [json.loads(line) for line in (tmp_path / "direct" / "metrics.jsonl").read_text().splitlines()]
    assert [r["train_loss"] for r in trial_history] == [r["train_loss"] for r in direct_history]


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_restarted_trial_resumes_its_run(local_sweep, tmp_path, data_dir):
    """A trial restarted after an interruption continues its run directory and ends as if never stopped."""
    from edgecnn.sweep.trial import prepare_run_dir, train_or_read

    sweep_dir, result = local_sweep
    assert result.exit_code == 0, result.output
    summary = json.loads((sweep_dir / "results.json").read_text())
    uninterrupted = json.loads((Path(next(row["run_dir"] for row in summary["trials"] if row["seed"] == 0))
                                / "results.json").read_text())
    config = tiny_config("mnist", data_dir, seed=0, threads=1)

    def stop_after_third_epoch(record):
        if len(epochs) == 2:
            raise Interrupted
        epochs.append(record)

    epochs: list[dict] = []
    run_dir = prepare_run_dir(tmp_path / "trials", "abcde_00000", config)
    with pytest.raises(Interrupted):
        train_or_read(run_dir, stop_after_third_epoch)
    assert not (run_dir / "results.json").exists()

    resumed_epochs: list[dict] = []
    assert prepare_run_dir(tmp_path / "trials", "abcde_00000", config) == run_dir
    results = train_or_read(run_dir, resumed_epochs.append)
    assert len(resumed_epochs) == uninterrupted["epochs"]["stage1"] + uninterrupted["epochs"]["stage2"] - 3
    for key in ("val_accuracy", "test_accuracy"):
        assert results[key] == uninterrupted[key], key


# --- A Ray cluster started with `ray start` on loopback ---

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cluster_pids(temp_dir: str) -> list[int]:
    """Process ids of the Ray processes whose command line names this cluster's temporary folder."""
    import psutil

    pids = []
    for process in psutil.process_iter(["pid", "cmdline", "uids"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if temp_dir in cmdline and process.info["uids"] and process.info["uids"].real == os.getuid():
            pids.append(process.info["pid"])
    return pids


@pytest.fixture(scope="module")
def ray_cluster():
    """A one-node Ray cluster on 127.0.0.1 with 2 CPUs; yields its address."""
    # A short folder: Ray's socket paths inside it must stay under the 107-byte Unix limit.
    temp_dir = tempfile.mkdtemp(prefix="ecray-", dir="/tmp")
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    started = subprocess.run(
        [str(RAY), "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
         "--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}", "--disable-usage-stats"],
        capture_output=True, text=True, timeout=120, env=env)
    if started.returncode != 0:
        pytest.fail(f"ray start failed: {started.stderr[-2000:]}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        # Stop only this cluster's processes: `ray stop` would end every Ray process of the user.
        import psutil

        processes = [psutil.Process(pid) for pid in cluster_pids(temp_dir)]
        for process in processes:
            process.terminate()
        _, alive = psutil.wait_procs(processes, timeout=5)
        for process in alive:
            process.kill()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_cluster_sweep_reports_failed_trial(ray_cluster, tmp_path, data_dir):
    config = write_tiny_config(tmp_path, data_dir)
    args = ["sweep", "--config", str(config), "--grid", "validation_size=300,70000", "--address", ray_cluster,
            "--project", str(tmp_path / "runs"), "--name", "cluster"]
    started = time.perf_counter()
    result = runner.invoke(app, args, env={"EDGECNN_OFFLINE": "1"})
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "runs" / "cluster" / "results.json").read_text())
    rows = {row["validation_size"]: row for row in summary["trials"]}
    assert rows[300]["status"] == "finished"
    assert rows[70000]["status"] == "failed"
    assert "validation size 70000 leaves no training images" in rows[70000]["error"]
    assert summary["best_run_dir"] == rows[300]["run_dir"]
    assert f"trial {rows[70000]['trial_id']} failed" in result.stderr
    print(f"cluster sweep of 2 trials: {time.perf_counter() - started:.1f} s")

    # Resuming retries the failed trial, which fails the same way, and leaves the finished run alone.
    finished_results = Path(rows[300]["run_dir"]) / "results.json"
    finished_mtime = finished_results.stat().st_mtime_ns
    resumed = runner.invoke(app, ["sweep", "--resume", str(tmp_path / "runs" / "cluster"), "--address",
                                  ray_cluster], env={"EDGECNN_OFFLINE": "1"})
    assert resumed.exit_code == 0, resumed.output
    again = json.loads((tmp_path / "runs" / "cluster" / "results.json").read_text())
    assert [row["status"] for row in again["trials"]] == [row["status"] for row in summary["trials"]]
    assert finished_results.stat().st_mtime_ns == finished_mtime


def test_resume_rejects_other_folder(tmp_path):
    result = runner.invoke(app, ["sweep", "--resume", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a sweep directory (sweep.json not found)" in error_line(result)
