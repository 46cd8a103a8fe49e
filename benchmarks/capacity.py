"""The cost of the two-branch split: one `edge` branch widened to the whole parameter budget.

The two-stage method of Isong (2025, arXiv 2501.15547) spends the budget on two identical
branches, so each `edge` branch gets about half of it (9,450 of 19,622 parameters for
CIFAR-10). This experiment trains a single branch of the same design with about the whole
budget, on augmented images with the `edge` recipe and no stage 2 (the ablation's
single-branch method), and records its accuracy in benchmarks/results/capacity.json.
Set beside the ablation's figures, it shows how much accuracy the method gives up for
its second branch.

Usage:
    EDGECNN_DATA_DIR=../shared/datasets python benchmarks/capacity.py --dataset cifar10 --epochs 30

Stopped, it resumes from its last finished epoch when run again with the same arguments.
The trained network serves this measurement only: edgecnn's commands build the preset's own
widths, so they cannot load it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from edgecnn import environment, fileio  # noqa: E402
from edgecnn.nets import edge, get_preset  # noqa: E402
from edgecnn.nets.stats import count_macs, count_parameters  # noqa: E402
from edgecnn.training import checkpoint, rundir, stage1  # noqa: E402
from edgecnn.training.config import default_config  # noqa: E402
from edgecnn.training.context import TrainingContext  # noqa: E402
from edgecnn.training.loop import InputPipeline, evaluate  # noqa: E402
from edgecnn.training.run import load_splits  # noqa: E402

# Widths (stem, block 1, block 2, block 3) of one branch with about the whole budget, by input
# channels: 14,770 of 14,862 parameters for 1x28x28 and 19,498 of 19,622 for 3x32x32, 1.4 to
# 1.6 times the preset's width in each layer.
FULL_BUDGET_WIDTHS = {1: (24, 48, 72, 96), 3: (28, 56, 88, 100)}
OUT = HERE / "results" / "capacity.json"


def train_full_budget_branch(dataset: str, epochs: int, seed: int, threads: int, run_dir: Path) -> dict:
    """Train (or resume) one full-budget branch in run_dir and return its record for capacity.json."""
    config = default_config(dataset, "edge")
    config.method, config.seed, config.threads, config.allow_download = "single-branch", seed, threads, False
    # The one-cycle schedule spans all epochs, and no early stop cuts it short, as in the preset's recipe.
    config.stage1.max_epochs = config.stage1.patience_epochs = epochs
    config.validate()
    started_environment = environment.describe()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)

    splits = load_splits(config)
    preset = get_preset("edge")
    pipeline = InputPipeline(preset, splits.channels, config.channels_last)
    context = TrainingContext(config, preset, run_dir, splits.train, splits.validation, pipeline)
    widths = FULL_BUDGET_WIDTHS[splits.channels]
    torch.manual_seed(seed)
    branch = edge.Branch(splits.channels, splits.side, len(splits.classes), widths=widths)
    model = stage1.AugmentedBranchModel(branch).to(memory_format=torch.channels_last)

    last_path = run_dir / rundir.CHECKPOINT_DIR / rundir.LAST_CHECKPOINT
    resume = checkpoint.load(last_path) if last_path.is_file() else None
    if resume is not None:
        context.history = list(resume["history"])
    model = stage1.run_stage1(context, model, resume)

    _, test_accuracy = evaluate(branch, splits.test, pipeline)
    _, val_accuracy = evaluate(branch, splits.validation, pipeline)
    return {
        "dataset": dataset, "widths": list(widths), "seed": seed, "epochs": epochs, "threads": threads,
        "params": count_parameters(branch), "macs": count_macs(branch, (splits.channels, splits.side, splits.side)),
        "test_accuracy": round(100 * test_accuracy, 4), "test_images": len(splits.test),
        "val_accuracy": round(100 * val_accuracy, 4),
        "train_wall_seconds": round(sum(record["epoch_seconds"] for record in context.history), 1),
        "environment": started_environment,
    }


def record(result: dict, out: Path) -> None:
    """Add a finished run to out, replacing an earlier one of the same data set, widths, epochs and seed."""
    def key(run: dict) -> tuple:
        return run["dataset"], tuple(run["widths"]), run["epochs"], run["seed"]

    runs = json.loads(out.read_text())["runs"] if out.is_file() else []
    runs = sorted([run for run in runs if key(run) != key(result)] + [result], key=key)
    fileio.write_json(out, {"schema": 1, "runs": runs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist", "cifar10"], required=True)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--project", type=Path, default=Path("runs/capacity"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    run_dir = args.project / f"{args.dataset}-full-budget-branch-{args.epochs}-epochs-seed-{args.seed}"
    (run_dir / rundir.CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
    result = train_full_budget_branch(args.dataset, args.epochs, args.seed, args.threads, run_dir)
    record(result, args.out)
    print(f"{args.dataset}: {result['params']:,} parameters, {result['val_accuracy']:.2f}% validation, "
          f"{result['test_accuracy']:.2f}% on {result['test_images']:,} test images, "
          f"{result['train_wall_seconds']:.0f} s of training; recorded in {args.out}")


if __name__ == "__main__":
    main()
