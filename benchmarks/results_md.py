"""Generate benchmarks/RESULTS.md from the recorded JSON results; nothing in it is typed by hand.

Usage: python benchmarks/results_md.py

Reads, all under benchmarks/results/:
    train-paper.json, train-edge.json  training runs (train_presets.py)
    bench.json                          the shipped artifacts measured by `edgecnn bench` (bench_artifacts.py)
    bench-validation.json               their accuracy on the validation split (bench_artifacts.py --validation)
    ablation.json                       the ablation's finished runs (ablation.py)
    capacity.json                       single branches with the whole parameter budget (capacity.py)
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from edgecnn import fileio  # noqa: E402

RESULTS = HERE / "results"
DATASETS = ("mnist", "fashion-mnist", "cifar10")
PRESETS = ("paper", "edge")
METHODS = ("two-stage", "single-branch", "plain-fine-tune")

# Isong (2025), arXiv 2501.15547: test accuracy (percent) and parameters of the same two-stage model.
PAPER = {"mnist": (99.0, "14,862"), "fashion-mnist": (89.0, "14,862"), "cifar10": (65.0, "under 20,000")}
# Goals of the edge preset for its shipped int8 artifacts, in percent on the test images used here.
TARGETS = {"mnist": 99.6, "fashion-mnist": 92.5, "cifar10": 84.0}
CIFAR_VALIDATION_TARGET = 85.0  # on the 5,000 validation images, MLPerf Tiny's quality target
TEST_NOTE = {"cifar10": "first 1,000 test images"}


def read(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def machine_text(environment: dict) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in environment.get("packages", {}).items()
                         if version)
    return (f"{environment['cpu']} ({environment['architecture']}, {environment['cores']} cores), "
            f"Python {environment['python']}, {packages}")


def training_runs() -> dict[tuple[str, str], dict]:
    """Map (data set, preset) to the recorded run and the commit that produced it."""
    runs = {}
    for preset in PRESETS:
        document = read(f"train-{preset}.json")
        for run in (document or {}).get("runs", []):
            commit = run["environment"].get("commit") or document.get("commit")
            runs[run["dataset"], preset] = dict(run, commit=commit, commit_kind=document.get("commit_kind",
                                                                                             "recorded"))
    return runs


def int8_rows(bench: dict | None) -> dict[tuple[str, str], dict]:
    """Map (data set, preset) to the 1-thread benchmark row of its int8 TFLite artifact."""
    rows = {}
    for row in (bench or {}).get("models", []):
        if row["threads"] == 1 and row["format"] == "tflite" and row["name"].endswith("-int8.tflite"):
            rows[row["dataset"], row["preset"]] = row
    return rows


def goal_text(dataset: str, test_row: dict | None, validation_row: dict | None) -> str:
    """Return the edge preset's goal for an int8 artifact and whether its measured accuracy meets it."""
    goal = f"{TARGETS[dataset]:.1f}"
    measured = [(test_row, TARGETS[dataset])]
    if dataset == "cifar10":
        goal += f", validation {CIFAR_VALIDATION_TARGET:.1f}"
        measured.append((validation_row, CIFAR_VALIDATION_TARGET))
    if any(row is None or row.get("accuracy_top1_percent") is None for row, _ in measured):
        return goal
    met = all(row["accuracy_top1_percent"] >= target for row, target in measured)
    return goal + (", met" if met else ", missed")


def comparison_table(runs: dict, bench: dict | None, validation_bench: dict | None) -> list[str]:
    int8, int8_validation = int8_rows(bench), int8_rows(validation_bench)
    lines = ["| data set | model | float test (%) | int8 TFLite test (%) | goal (%) | float validation (%) "
             "| int8 TFLite validation (%) | parameters | int8 file (bytes) | training (min) "
             "| int8 p50, batch 1 (µs) | commit |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for dataset in DATASETS:
        accuracy, params = PAPER[dataset]
        lines.append(f"| {dataset} | paper (Isong 2025) | {accuracy:.0f} | | | | | {params} | | | | |")
        for preset in PRESETS:
            run, row = runs.get((dataset, preset)), int8.get((dataset, preset))
            validation_row = int8_validation.get((dataset, preset))
            if run is None and row is None:
                lines.append(f"| {dataset} | {preset} preset | not run yet | | | | | | | | | |")
                continue
            goal = goal_text(dataset, row, validation_row) if preset == "edge" else ""
            cells = [
                f"{run['test_accuracy']:.2f}" if run else "",
                f"{row['accuracy_top1_percent']:.2f}" if row and row.get("accuracy_top1_percent") else "",
                goal,
                f"{run['val_accuracy']:.2f}" if run else "",
                f"{validation_row['accuracy_top1_percent']:.2f}" if validation_row else "",
                f"{run['params']:,}" if run else "",
                f"{row['file_size_bytes']:,}" if row else "",
                f"{run['train_wall_seconds'] / 60:.1f}" if run else "",
                f"{1000 * row['latency_ms']['p50']:.0f}" if row else "",
                (run["commit"] or "unknown") + ("" if run["commit_kind"] == "trained" else " (recorded)")
                if run else "",
            ]
            lines.append(f"| {dataset} | {preset} preset | " + " | ".join(cells) + " |")
    return lines


def stages_table(runs: dict) -> list[str]:
    """Validation accuracy of each branch after stage 1 and of the unified model after each stage-2 step."""
    lines = ["| data set | preset | original branch | augmented branch | stage-2 steps, in order |",
             "|---|---|---:|---:|---|"]
    for (dataset, preset), run in sorted(runs.items()):
        stages = run.get("stages")
        if not stages:
            continue
        branches = stages["stage1_best_val"]
        steps = ", ".join(f"{name} {value:.2f}" for name, value in stages["stage2_final_val"].items())
        lines.append(f"| {dataset} | {preset} | {branches.get('original', float('nan')):.2f} "
                     f"| {branches.get('augmented', float('nan')):.2f} | {steps} |")
    return lines


def ablation_table(ablation: dict | None) -> list[str]:
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for run in (ablation or {}).get("runs", []):
        groups.setdefault((run["dataset"], run["preset"], run["method"]), []).append(run)
    if not groups:
        return ["No ablation run has finished yet."]
    lines = ["| data set | preset | method | seeds | test mean (%) | test std (pp) | against two-stage (pp) "
             "| validation mean (%) | parameters | training mean (min) | commits |",
             "|---|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for dataset in DATASETS:
        for preset in PRESETS:
            full_method = groups.get((dataset, preset, "two-stage"), [])
            for method in METHODS:
                runs = sorted(groups.get((dataset, preset, method), []), key=lambda run: run["seed"])
                if not runs:
                    continue
                test = [run["test_accuracy"] for run in runs]
                # Sample standard deviation over seeds; one seed has none.
                spread = f"{statistics.stdev(test):.2f}" if len(test) > 1 else "n/a"
                against = ""
                if method != "two-stage" and full_method:
                    difference = statistics.mean(test) - statistics.mean(run["test_accuracy"] for run in full_method)
                    # Rounding a tiny negative difference would print "-0.00".
                    against = f"{difference:+.2f}" if round(difference, 2) != 0 else "0.00"
                commits = sorted({run["environment"].get("commit") or "unknown" for run in runs})
                lines.append(
                    f"| {dataset} | {preset} | {method} | {', '.join(str(run['seed']) for run in runs)} "
                    f"| {statistics.mean(test):.2f} | {spread} | {against} "
                    f"| {statistics.mean(run['val_accuracy'] for run in runs):.2f} | {runs[0]['params']:,} "
                    f"| {statistics.mean(run['train_wall_seconds'] for run in runs) / 60:.1f} "
                    f"| {', '.join(commits)} |")
    return lines


def capacity_table(capacity: dict | None, ablation: dict | None) -> list[str]:
    """Set each full-budget branch beside the ablation's edge runs of its data set, each row with its epochs."""
    if not (capacity or {}).get("runs"):
        return ["No full-budget branch has been trained yet."]
    lines = ["| data set | model | seeds | parameters | epochs | validation mean (%) | test mean (%) "
             "| training mean (min) | commits |",
             "|---|---|---|---:|---|---:|---:|---:|---|"]
    ablation_runs = [run for run in (ablation or {}).get("runs", []) if run["preset"] == "edge"]
    for dataset in DATASETS:
        full_budget = [run for run in capacity["runs"] if run["dataset"] == dataset]
        if not full_budget:
            continue
        rows = [("two branches and stage 2 (`two-stage`)", "two-stage"),
                ("one half-budget branch (`single-branch`)", "single-branch")]
        for label, method in rows:
            runs = [run for run in ablation_runs if run["dataset"] == dataset and run["method"] == method]
            if runs:
                epochs = f"{runs[0]['epochs']['stage1']} + {runs[0]['epochs']['stage2']}"
                lines.append(_capacity_row(dataset, label, runs, epochs))
        for epochs in sorted({run["epochs"] for run in full_budget}):
            runs = [run for run in full_budget if run["epochs"] == epochs]
            widths = "/".join(map(str, runs[0]["widths"]))
            lines.append(_capacity_row(dataset, f"one full-budget branch, widths {widths}", runs, f"{epochs} + 0"))
    return lines


def _capacity_row(dataset: str, label: str, runs: list[dict], epochs: str) -> str:
    runs = sorted(runs, key=lambda run: run["seed"])
    commits = sorted({run["environment"].get("commit") or "unknown" for run in runs})
    return (f"| {dataset} | {label} | {', '.join(str(run['seed']) for run in runs)} | {runs[0]['params']:,} "
            f"| {epochs} | {statistics.mean(run['val_accuracy'] for run in runs):.2f} "
            f"| {statistics.mean(run['test_accuracy'] for run in runs):.2f} "
            f"| {statistics.mean(run['train_wall_seconds'] for run in runs) / 60:.1f} | {', '.join(commits)} |")


def ablation_machines(ablation: dict | None) -> list[str]:
    """Describe each machine that trained a recorded ablation run, with how many runs it trained."""
    counts: dict[str, int] = {}
    for run in (ablation or {}).get("runs", []):
        text = machine_text(run["environment"])
        counts[text] = counts.get(text, 0) + 1
    return [f"{text}: {count} run(s)" for text, count in sorted(counts.items())]


def main() -> None:
    runs, bench, ablation = training_runs(), read("bench.json"), read("ablation.json")
    capacity = read("capacity.json")
    validation_bench = read("bench-validation.json")
    machines = {machine_text(run["environment"]) for run in runs.values()}
    lines = [
        "# Results",
        "",
        "Generated by `python benchmarks/results_md.py` from the JSON files in `benchmarks/results/`.",
        "Do not edit by hand; rerun the scripts named below instead.",
        "",
        "## The paper, the `paper` preset and the `edge` preset",
        "",
        "Test accuracy is on the full test set, except CIFAR-10: the CIFAR-10 copy these runs read",
        f"has only its {TEST_NOTE['cifar10']}. Validation accuracy is on the images held out from",
        "training (10,000 for `paper`, 5,000 for `edge`): the float model's from training, the int8",
        "TFLite file's from `benchmarks/bench_artifacts.py --validation`.",
        "The int8 TFLite accuracy, file size and latency come from `edgecnn bench --dataset` on the",
        "shipped artifacts (LiteRT, 1 thread). Training time is the sum of the epochs' wall times",
        "on the machine below, often shared with other jobs. A commit marked \"recorded\" is the one",
        "at which the figures were recorded; those runs did not record their own.",
        "",
        *comparison_table(runs, bench, validation_bench),
        "",
        "The goals are those set for the `edge` preset's int8 artifacts: MNIST and Fashion-MNIST at",
        "the level of published small CNNs, and for CIFAR-10 "
        f"{TARGETS['cifar10']:.0f}% on the test images above plus {CIFAR_VALIDATION_TARGET:.0f}% on the",
        "validation images, MLPerf Tiny's quality target for its 78,000-parameter ResNet-8.",
        "",
        "Sources: `benchmarks/train_presets.py` (training), `benchmarks/bench_artifacts.py --dataset auto` "
        "(benchmarks).",
        "",
        "## Through the stages",
        "",
        "Validation accuracy (%) of the runs above: each stage-1 branch at its best epoch, which",
        "stage 2 starts from, then the unified model at the end of each stage-2 step (a step with",
        "patience ends on its best epoch).",
        "",
        *stages_table(runs),
        "",
        "## Ablation: what each stage contributes",
        "",
        "Each method trained with the preset's recipe (`benchmarks/ablation.py`), one torch thread per run and",
        "usually two runs at a time on 2 cores, so its training minutes compare only within this table,",
        "not with those of the first table.",
        "`two-stage` is the full method, `single-branch` the augmented branch alone without stage 2,",
        "`plain-fine-tune` stage 1 followed by one fine-tuning step with nothing frozen.",
        "\"Against two-stage\" is the method's mean test accuracy minus that of `two-stage` with the",
        "same data set and preset; compare it with the standard deviations beside it.",
        f"CIFAR-10 test accuracy is on the {TEST_NOTE['cifar10']}, as above.",
        "",
        *ablation_table(ablation),
        "",
        "## What the two-branch split costs",
        "",
        "The method spends the parameter budget on two identical branches, so each `edge` branch has",
        "about half of it. `benchmarks/capacity.py` trains one branch of the same design, 1.4 to 1.6",
        "times wider in each layer so that it uses about the whole budget, with the `single-branch`",
        "method and recipe. The first two rows are the ablation's runs above. Runs of the ablation use",
        "one thread and the full-budget branch two, so training minutes compare only loosely.",
        "",
        *capacity_table(capacity, ablation),
        "",
        "## Machines",
        "",
        *[f"- training: {text}" for text in sorted(machines)],
        *[f"- ablation: {text}" for text in ablation_machines(ablation)],
        *[f"- full-budget branch: {text}" for text in sorted({machine_text(run["environment"])
                                                              for run in (capacity or {}).get("runs", [])})],
    ]
    if bench:
        commit = bench["environment"].get("commit") or "unknown"
        lines.append(f"- benchmarks: {machine_text(bench['environment'])}, measured {bench['created_utc']} "
                     f"at commit {commit}")
        if commit.endswith("-dirty"):
            lines.append("  (with uncommitted changes in the working tree; the artifacts measured are the "
                         "committed ones, as their sha256 in bench.json shows)")
    fileio.write_text(HERE / "RESULTS.md", "\n".join(lines) + "\n")
    print(HERE / "RESULTS.md")


if __name__ == "__main__":
    main()
