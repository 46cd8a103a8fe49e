"""Benchmark every shipped artifact in every installed runtime, plus the PyTorch baseline of the checkpoints.

Runs each ``models/<dataset>-<preset>/`` artifact (``.onnx``, ``.tflite``) in every installed
runtime that loads it, at 1 and 2 threads, and each checkpoint (``.pt``) there in PyTorch;
writes ``benchmarks/results/bench.json`` (schema edgecnn-bench v1, all rows in one document)
and ``benchmarks/results/bench.md`` (the table with the machine and method).

    python benchmarks/bench_artifacts.py                 # full length: 1,000 timed runs per row
    python benchmarks/bench_artifacts.py --smoke         # a few runs per row, to check the script
    python benchmarks/bench_artifacts.py --dataset auto  # also top-1 accuracy on the real test sets
    python benchmarks/bench_artifacts.py --validation    # accuracy on each preset's validation split

Run it on an otherwise idle machine: other processes on the same cores inflate p90 and p99.
`--validation` measures accuracy only, in each file's default runtime at 1 thread, on the
training images the model's preset holds out (5,000 for edge, 10,000 for paper). It writes
bench-validation.json and .md, whose latency figures come from a few timed runs and are not
results.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from edgecnn.bench import BenchConfig, BenchReport, run_benchmarks
from edgecnn.bench import report as reports
from edgecnn.runtimes import SUFFIX_RUNTIMES, runtime_installed

REPO_ROOT = Path(__file__).resolve().parents[1]
THREAD_COUNTS = (1, 2)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / "models")
    parser.add_argument("--output-dir", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--dataset", default=None, help="'auto' for each model's own test set; default: none")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--smoke", action="store_true", help="a few runs per row instead of 1,000")
    parser.add_argument("--validation", action="store_true",
                        help="accuracy on each preset's validation split instead of the benchmark")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    config = BenchConfig(dataset=args.dataset, data_dir=args.data_dir, test_limit=args.test_limit)
    if args.smoke or args.validation:
        config = dataclasses.replace(config, warmup_runs=5, warmup_min_s=0, timed_runs=20, timed_min_s=0,
                                     throughput_runs=3)
    if args.validation:
        return validation_accuracy(args, dataclasses.replace(config, dataset="auto", test_limit=None))

    # Every (file, runtime, threads) combination; the checkpoints once, in PyTorch.
    artifacts = sorted(p for p in args.models_dir.glob("*/*") if p.suffix in (".onnx", ".tflite"))
    checkpoints = sorted(args.models_dir.glob("*/*.pt"))
    if not artifacts and not checkpoints:
        print(f"no artifacts or checkpoints under {args.models_dir}", file=sys.stderr)
        return 1
    combined = None
    for threads in THREAD_COUNTS:
        for path in artifacts:
            for runtime in SUFFIX_RUNTIMES[path.suffix]:
                if not runtime_installed(runtime):
                    logging.info("skipping %s in %s: not installed", path.name, runtime)
                    continue
                run_config = dataclasses.replace(config, runtime=runtime, threads=threads)
                combined = merge(combined, run_benchmarks([path], run_config))
    if checkpoints and runtime_installed("torch"):
        combined = merge(combined, run_benchmarks(checkpoints, dataclasses.replace(config, runtime="torch")))

    # Paths relative to the repository, so the recorded results name no local folder.
    for row in combined.models:
        row.path = relative_to_repo(row.path)
    for entry in combined.skipped:
        entry["path"] = relative_to_repo(entry["path"])

    # One JSON document for all rows; its "method" records the configuration shared by every row.
    args.output_dir.mkdir(parents=True, exist_ok=True)
    reports.write_json(combined, args.output_dir / "bench.json")
    reports.write_markdown(combined, args.output_dir / "bench.md")
    print(reports.markdown_text(combined))
    return 0


def validation_accuracy(args: argparse.Namespace, config: BenchConfig) -> int:
    """Score every shipped artifact on the validation split its preset held out from training."""
    from edgecnn.training.config import default_config

    combined, sizes = None, {}
    for manifest_path in sorted(args.models_dir.glob("*/export.json")):
        manifest = json.loads(manifest_path.read_text())
        metadata = manifest["artifacts"][0]["metadata"]
        validation_size = default_config(metadata["dataset"], metadata["preset"]).validation_size
        sizes[metadata["preset"]] = validation_size
        paths = [manifest_path.parent / entry["path"] for entry in manifest["artifacts"]]
        run_config = dataclasses.replace(config, validation_size=validation_size)
        combined = merge(combined, run_benchmarks(paths, run_config, skip_missing_runtimes=True))
    if combined is None:
        print(f"no export.json under {args.models_dir}", file=sys.stderr)
        return 1
    for row in combined.models:
        row.path = relative_to_repo(row.path)
    # validation_size differs between presets, so the shared configuration records none and
    # each row's accuracy_images gives the size of its split.
    combined.config = dataclasses.replace(combined.config, validation_size=None)
    splits = ", ".join(f"{size:,} for {preset}" for preset, size in sorted(sizes.items()))
    text = reports.markdown_text(combined) + (
        f"Accuracy: on the validation split of each model's preset, the first training images ({splits}), "
        "not on the test set. Latency here comes from 20 timed runs and is not a result.\n")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    reports.write_json(combined, args.output_dir / "bench-validation.json")
    (args.output_dir / "bench-validation.md").write_text(text)
    print(text)
    return 0


def relative_to_repo(path: str) -> str:
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else path


def merge(combined: BenchReport | None, report: BenchReport) -> BenchReport:
    if combined is None:
        return report
    combined.models.extend(report.models)
    combined.skipped.extend(report.skipped)
    runtimes = sorted(set(combined.environment["runtimes_used"]) | set(report.environment["runtimes_used"]))
    combined.environment["runtimes_used"] = runtimes
    return combined


if __name__ == "__main__":
    sys.exit(main())
