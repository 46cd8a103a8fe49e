"""benchmarks/ablation.py: recorded runs outlive the runs/ folder that trained them."""

from __future__ import annotations

import fcntl
import json
import threading

from scripts import load_script

ablation = load_script("benchmarks/ablation.py")


def _record(method: str, seed: int, accuracy: float) -> dict:
    return {"dataset": "mnist", "preset": "edge", "method": method, "seed": seed, "test_accuracy": accuracy}


def _finished_trial(project, sweep: str, trial: str, record: dict) -> None:
    trial_dir = project / sweep / "trials" / trial
    trial_dir.mkdir(parents=True)
    (trial_dir / "results.json").write_text(json.dumps(record))


def test_collect_merges_recorded_runs(tmp_path):
    out = tmp_path / "ablation.json"
    out.write_text(json.dumps({"schema": 1, "runs": [_record("two-stage", 0, 99.42),
                                                     _record("two-stage", 1, 99.37)]}))
    project = tmp_path / "runs"
    _finished_trial(project, "mnist-edge-two-stage", "a_00000", _record("two-stage", 1, 99.40))
    _finished_trial(project, "mnist-edge-single-branch", "b_00000", _record("single-branch", 0, 99.10))

    records = ablation.collect(project, out)

    assert [(r["method"], r["seed"], r["test_accuracy"]) for r in records] == [
        ("single-branch", 0, 99.10), ("two-stage", 0, 99.42), ("two-stage", 1, 99.40)]
    assert json.loads(out.read_text())["runs"] == records
    assert records[0]["run"] == "mnist-edge-single-branch/trials/b_00000"


def test_run_skips_recorded_seeds(tmp_path, monkeypatch):
    out = tmp_path / "ablation.json"
    out.write_text(json.dumps({"schema": 1, "runs": [_record("two-stage", seed, 99.4) for seed in (0, 1, 2)]
                                          + [_record("single-branch", 0, 99.1)]}))
    commands = []
    monkeypatch.setattr(ablation.subprocess, "run", lambda command, check: commands.append(command))

    ablation.run("mnist", "edge", [0, 1, 2], ["two-stage", "single-branch"], 2, tmp_path / "runs", out)

    [command] = commands  # every two-stage seed is recorded: no sweep for it
    assert command[command.index("--grid") + 1] == "seed=1,2"
    assert command[command.index("--set") + 1] == "method=single-branch"
    assert command[command.index("--name") + 1] == "mnist-edge-single-branch"


def test_collect_waits_for_lock(tmp_path):
    out = tmp_path / "ablation.json"
    project = tmp_path / "runs"
    _finished_trial(project, "mnist-edge-two-stage", "a_00000", _record("two-stage", 0, 99.42))
    collector = threading.Thread(target=ablation.collect, args=(project, out))

    # Another process's collect holds the lock, so this one must wait before it reads the file.
    with open(tmp_path / "ablation.json.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        collector.start()
        collector.join(timeout=0.5)
        assert collector.is_alive()
        assert not out.exists()
    collector.join(timeout=10)

    assert not collector.is_alive()
    assert [run["seed"] for run in json.loads(out.read_text())["runs"]] == [0]
