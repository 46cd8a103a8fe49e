"""Measure what each training stage contributes: resumable sweeps per data set, preset and method.

Usage:
    EDGECNN_DATA_DIR=../shared/datasets python benchmarks/ablation.py run --dataset mnist --preset edge
    python benchmarks/ablation.py collect

`run` trains every method of the ablation for every seed that benchmarks/results/ablation.json
does not hold yet, one `edgecnn sweep` per method in runs/ablation/DATASET-PRESET-METHOD,
the methods in the order --methods gives. Run it again after an interruption and each sweep
resumes: finished trials are kept and unfinished ones continue from their last epoch. The
methods (see TrainConfig.method):

    two-stage        stage 1 on original and augmented images, then progressive unfreezing
    single-branch    the augmented branch alone, with no stage 2
    plain-fine-tune  stage 1, then one fine-tuning step with nothing frozen

`collect` (also done by `run` after each sweep) adds every finished trial under runs/ablation to
benchmarks/results/ablation.json, with the machine and the commit that trained it. Runs
recorded earlier stay, so the ablation can span machines whose runs/ folders are gone. A
new run of the same data set, preset, method and seed replaces the recorded one.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from edgecnn import fileio  # noqa: E402
from edgecnn.sweep.tuner import SPEC_FILE  # noqa: E402
from edgecnn.sweep.trial import TRIALS_DIR  # noqa: E402
from edgecnn.training.config import METHODS  # noqa: E402
KEPT_KEYS = ("dataset", "preset", "method", "seed", "test_accuracy", "test_images", "val_accuracy", "params",
             "epochs", "train_wall_seconds", "threads", "environment")


def recorded_runs(out: Path) -> list[dict]:
    """Return the runs ablation.json holds, or none when it does not exist yet."""
    if not out.is_file():
        return []
    return json.loads(out.read_text())["runs"]


def run_key(record: dict) -> tuple:
    return record["dataset"], record["preset"], record["method"], record["seed"]


def run(dataset: str, preset: str, seeds: list[int], methods: list[str], cpus: int, project: Path,
        out: Path) -> None:
    done = {run_key(record) for record in recorded_runs(out)}
    for method in methods:
        sweep_dir = project / f"{dataset}-{preset}-{method}"
        missing = [seed for seed in seeds if (dataset, preset, method, seed) not in done]
        if (sweep_dir / SPEC_FILE).is_file():
            command = ["edgecnn", "sweep", "--resume", str(sweep_dir), "--cpus", str(cpus)]
        elif missing:
            command = ["edgecnn", "sweep", "--dataset", dataset, "--preset", preset, "--no-download",
                       "--grid", "seed=" + ",".join(map(str, missing)), "--set", f"method={method}",
                       "--threads-per-trial", "1", "--cpus", str(cpus), "--project", str(project),
                       "--name", sweep_dir.name]
        else:
            print(f"{dataset} {preset} {method}: every seed is recorded in {out}", flush=True)
            continue
        print("$ " + " ".join(command), flush=True)
        # A sweep with unfinished trials exits non-zero; collect what did finish either way.
        subprocess.run(command, check=False)
        collect(project, out)


def collect(project: Path, out: Path) -> list[dict]:
    """Add the finished trials under PROJECT to the runs recorded in OUT, replacing any of the same key."""
    new_records = []
    for results_path in sorted(project.glob(f"*/{TRIALS_DIR}/*/results.json")):
        results = json.loads(results_path.read_text())
        record = {key: results.get(key) for key in KEPT_KEYS}
        # Runs from before TrainConfig.method existed trained the two-stage method.
        record["method"] = record["method"] or "two-stage"
        record["run"] = str(results_path.parent.relative_to(project))
        new_records.append(record)
    new_keys = {run_key(record) for record in new_records}
    # Two `run` processes (say, one per method) may collect at the same moment. The lock keeps
    # one from writing over the other's merge with a file read before that merge.
    with _locked(out):
        earlier_records = [record for record in recorded_runs(out) if run_key(record) not in new_keys]
        records = sorted(earlier_records + new_records, key=run_key)
        fileio.write_json(out, {"schema": 1, "runs": records})
    print(f"{len(new_records)} finished run(s) found under {project}, {len(records)} recorded in {out}")
    return records


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on OUT's lock file, next to it, for the duration of the block."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.with_name(out.name + ".lock"), "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["run", "collect"])
    parser.add_argument("--dataset", choices=["mnist", "fashion-mnist", "cifar10"])
    parser.add_argument("--preset", choices=["paper", "edge"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--cpus", type=int, default=2, help="trials of a sweep to run in parallel, with one torch thread each")
    parser.add_argument("--project", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "ablation.json")
    args = parser.parse_args()
    if args.action == "run":
        if args.dataset is None or args.preset is None:
            parser.error("run needs --dataset and --preset")
        run(args.dataset, args.preset, args.seeds, args.methods, args.cpus, args.project, args.out)
    else:
        collect(args.project, args.out)  # run collects after each of its sweeps


if __name__ == "__main__":
    main()
