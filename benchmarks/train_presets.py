"""Train a preset on each data set and record accuracy, parameters and training time.

Usage:
    EDGECNN_DATA_DIR=../shared/datasets python benchmarks/train_presets.py --preset edge [--datasets mnist ...]
    python benchmarks/train_presets.py --from-runs runs/train/mnist-paper runs/train/cifar10-paper ...

The first form trains each data set from scratch with the preset's recipe, which takes
about 10 to 60 minutes each on 2 cores. The second records finished run directories. Either way the
figures come from each run's results.json and go to benchmarks/results/train-PRESET.json
and train-PRESET.md, one pair per preset.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from edgecnn import fileio  # noqa: E402

# Figures reported by Isong (2025), arXiv 2501.15547, for the same architecture.
PAPER_ACCURACY = {"mnist": 99.0, "fashion-mnist": 89.0, "cifar10": 65.0}
PAPER_PARAMS = {"mnist": 14862, "fashion-mnist": 14862, "cifar10": None}  # CIFAR-10: "under 20,000"


def train_datasets(preset: str, datasets: list[str], threads: int, project: Path) -> list[Path]:
    from edgecnn.training.config import default_config
    from edgecnn.training.run import start_run, train

    run_dirs = []
    for dataset in datasets:
        config = default_config(dataset, preset)
        config.threads, config.allow_download = threads, False
        run_dir = start_run(config, project, f"{dataset}-{preset}")
        train(run_dir)
        run_dirs.append(run_dir)
    return run_dirs


def stage_summary(run_dir: Path) -> dict:
    """Return the best stage-1 validation accuracy of each branch and each stage-2 step's final one (percent).

    A step with patience restores its best epoch, so its final accuracy is its best. Any
    other step ends with the weights of its last epoch.
    """
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    schedule = json.loads((run_dir / "config.json").read_text())["stage2"]["schedule"]
    restores_best = {step["name"] for step in schedule if step.get("patience_epochs")}
    branches = {}
    for key in ("val_accuracy_original", "val_accuracy_augmented"):
        values = [record[key] for record in records if record["stage"] == 1 and key in record]
        if values:
            branches[key.removeprefix("val_accuracy_")] = round(100 * max(values), 2)
    steps: dict[str, float] = {}
    for record in records:
        if record["stage"] == 2:
            value = round(100 * record["val_accuracy"], 2)
            steps[record["step"]] = max(value, steps.get(record["step"], 0.0)) if record["step"] in restores_best \
                else value
    return {"stage1_best_val": branches, "stage2_final_val": steps}


def commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def markdown(preset: str, records: list[dict], machine: dict, commit_id: str | None, commit_kind: str) -> str:
    lines = [
        f"# {preset.capitalize()} preset: training results",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['os']}, Python {machine['python']}.",
        f"Trained at commit {commit_id}." if commit_kind == "trained" else
        f"Recorded at commit {commit_id}; the runs predate the commit record in results.json.",
        "CIFAR-10 test accuracy is measured on the first 1,000 test images only.",
        "",
        "| data set | test accuracy (%) | test images | paper (%) | parameters | MACs | epochs (stage 1 + 2) "
        "| training time (min) | threads |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in records:
        epochs = f"{r['epochs']['stage1']} + {r['epochs']['stage2']}"
        lines.append(f"| {r['dataset']} | {r['test_accuracy']:.2f} | {r['test_images']:,} | "
                     f"{PAPER_ACCURACY[r['dataset']]:.0f} | {r['params']:,} | {r['macs']:,} | {epochs} | "
                     f"{r['train_wall_seconds'] / 60:.1f} | {r['threads']} |")
    lines += ["", "Training time is the sum of the epochs' wall times (training and validation). Runs that "
              "shared the CPU with other jobs took longer than they would alone."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=["paper", "edge"], default="paper", help="preset to train")
    parser.add_argument("--datasets", nargs="+", default=["mnist", "fashion-mnist", "cifar10"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--project", type=Path, default=Path("runs/benchmark"))
    parser.add_argument("--from-runs", nargs="+", type=Path, help="record these finished run directories")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    run_dirs = args.from_runs or train_datasets(args.preset, args.datasets, args.threads, args.project)
    by_preset: dict[str, list[dict]] = {}
    for run_dir in run_dirs:
        results = json.loads((run_dir / "results.json").read_text())
        record = {key: results.get(key) for key in ("dataset", "preset", "method", "test_accuracy", "test_images",
                                                    "val_accuracy", "params", "macs", "epochs",
                                                    "train_wall_seconds", "seed", "threads", "environment")}
        record["stages"] = stage_summary(run_dir)
        by_preset.setdefault(record["preset"], []).append(record)
    for preset, records in by_preset.items():
        # The machine and commit that trained the runs, as each run recorded them. Runs from
        # before results.json named a commit fall back to the commit recorded here earlier.
        machine = records[0]["environment"]
        path = args.out / f"train-{preset}.json"
        earlier = json.loads(path.read_text()) if path.is_file() else {}
        if machine.get("commit"):
            commit_id, commit_kind = machine["commit"], "trained"
        elif earlier.get("commit"):
            commit_id, commit_kind = earlier["commit"], earlier.get("commit_kind", "recorded")
        else:
            commit_id, commit_kind = commit(), "recorded"
        fileio.write_json(path, {"schema": 1, "commit": commit_id, "commit_kind": commit_kind, "machine": machine,
                                 "runs": records})
        fileio.write_text(path.with_suffix(".md"), markdown(preset, records, machine, commit_id, commit_kind))
        print(path.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
