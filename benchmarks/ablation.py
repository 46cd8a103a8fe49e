"""Measure what each training stage contributes: one resumable sweep per data set and preset.

Usage:
    EDGECNN_DATA_DIR=../shared/datasets python benchmarks/ablation.py run --dataset mnist --preset edge
    python benchmarks/ablation.py collect

`run` trains every method of the ablation for every seed, as trials of an `edgecnn sweep`
in runs/ablation/DATASET-PRESET. Run it again after an interruption and the sweep resumes:
finished trials are kept and unfinished ones continue from their last epoch. The methods
(see TrainConfig.method):

    two-stage        stage 1 on original and augmented images, then progressive unfreezing
    single-branch    the augmented branch alone, with no stage 2
    plain-fine-tune  stage 1, then one fine-tuning step with nothing frozen

`collect` (also run after every `run`) writes every finished trial to
benchmarks/results/ablation.json, with the machine and the commit that trained it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from edgecnn import fileio  # noqa: E402
from edgecnn.sweep.tuner import SPEC_FILE  # noqa: E402
from edgecnn.sweep.trial import TRIALS_DIR  # noqa: E402
from edgecnn.training.config import METHODS  # noqa: E402
KEPT_KEYS = ("dataset", "preset", "method", "seed", "test_accuracy", "test_images", "val_accuracy", "params",
             "epochs", "train_wall_seconds", "threads", "environment")


def run(dataset: str, preset: str, seeds: list[int], methods: list[str], cpus: int, project: Path) -> None:
    sweep_dir = project / f"{dataset}-{preset}"
    if (sweep_dir / SPEC_FILE).is_file():
        command = ["edgecnn", "sweep", "--resume", str(sweep_dir), "--cpus", str(cpus)]
    else:
        command = ["edgecnn", "sweep", "--dataset", dataset, "--preset", preset, "--no-download",
                   "--grid", "seed=" + ",".join(map(str, seeds)), "--grid", "method=" + ",".join(methods),
                   "--threads-per-trial", "1", "--cpus", str(cpus), "--project", str(project),
                   "--name", sweep_dir.name]
    print("$ " + " ".join(command), flush=True)
    # A sweep with unfinished trials exits non-zero; collect what did finish either way.
    subprocess.run(command, check=False)


def collect(project: Path, out: Path) -> list[dict]:
    records = []
    for results_path in sorted(project.glob(f"*/{TRIALS_DIR}/*/results.json")):
        results = json.loads(results_path.read_text())
        record = {key: results.get(key) for key in KEPT_KEYS}
        # Runs from before TrainConfig.method existed trained the two-stage method.
        record["method"] = record["method"] or "two-stage"
        record["run"] = str(results_path.parent.relative_to(project))
        records.append(record)
    fileio.write_json(out, {"schema": 1, "runs": records})
    print(f"{len(records)} finished run(s) recorded in {out}")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run", "collect"])
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist", "cifar10"])
    parser.add_argument("--preset", choices=["paper", "edge"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--cpus", type=int, default=2, help="trials to run in parallel, with one torch thread each")
    parser.add_argument("--project", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ablation.json")
    args = parser.parse_args()
    if args.action == "run":
        if args.dataset is None or args.preset is None:
            parser.error("run needs --dataset and --preset")
        run(args.dataset, args.preset, args.seeds, args.methods, args.cpus, args.project)
    collect(args.project, args.out)


if __name__ == "__main__":
    main()
