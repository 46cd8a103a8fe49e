"""benchmarks/results_md.py: the tables of RESULTS.md, built from recorded runs."""

from __future__ import annotations

from scripts import load_script

SCRIPT = "benchmarks/results_md.py"


def run(seed: int, method: str, test_accuracy: float) -> dict:
    return {"dataset": "mnist", "preset": "edge", "method": method, "seed": seed, "test_accuracy": test_accuracy,
            "val_accuracy": 99.0, "params": 14790, "train_wall_seconds": 600.0,
            "environment": {"commit": "abc123"}}


def test_ablation_rows_mean_and_sample_std():
    results_md = load_script(SCRIPT)
    ablation = {"runs": [run(1, "two-stage", 99.4), run(0, "two-stage", 99.2), run(0, "single-branch", 99.0)]}
    rows = [line for line in results_md.ablation_table(ablation) if line.startswith("| mnist")]
    assert len(rows) == 2
    two_stage = rows[0].split(" | ")
    assert two_stage[2:8] == ["two-stage", "0, 1", "99.30", "0.14", "", "99.00"]
    single_branch = rows[1].split(" | ")
    assert single_branch[5] == "n/a"  # one seed has no spread
    assert single_branch[6] == "-0.30"  # 99.0 against the two-stage mean of 99.3


def test_ablation_table_without_runs():
    assert load_script(SCRIPT).ablation_table(None) == ["No ablation run has finished yet."]


def test_comparison_marks_missing_preset():
    lines = load_script(SCRIPT).comparison_table({}, None, None)
    assert "| cifar10 | edge preset | not run yet |" in "\n".join(lines)


def test_cifar_goal_needs_validation_too():
    results_md = load_script(SCRIPT)
    test_row = {"accuracy_top1_percent": 84.5}
    assert results_md.goal_text("cifar10", test_row, None) == "84.0, validation 85.0"
    assert results_md.goal_text("cifar10", test_row, {"accuracy_top1_percent": 84.9}).endswith(", missed")
    assert results_md.goal_text("cifar10", test_row, {"accuracy_top1_percent": 85.0}).endswith(", met")
    assert results_md.goal_text("mnist", {"accuracy_top1_percent": 99.6}, None) == "99.6, met"


def test_capacity_rows_follow_ablation_rows():
    results_md = load_script(SCRIPT)
    ablation = {"runs": [dict(run(0, "two-stage", 99.4), epochs={"stage1": 20, "stage2": 8}),
                         dict(run(0, "single-branch", 99.2), epochs={"stage1": 20, "stage2": 0})]}
    full_budget = {"dataset": "mnist", "widths": [24, 48, 72, 92], "seed": 0, "epochs": 20, "params": 14434,
                   "test_accuracy": 99.5, "val_accuracy": 99.3, "train_wall_seconds": 300.0,
                   "environment": {"commit": "def456"}}
    rows = [line.split(" | ") for line in results_md.capacity_table({"runs": [full_budget]}, ablation)
            if line.startswith("| mnist")]
    assert [row[1] for row in rows] == ["two branches and stage 2 (`two-stage`)",
                                        "one half-budget branch (`single-branch`)",
                                        "one full-budget branch, widths 24/48/72/92"]
    assert rows[0][4] == "20 + 8"
    assert rows[2][3:7] == ["14,434", "20 + 0", "99.30", "99.50"]


def test_capacity_table_without_runs():
    assert load_script(SCRIPT).capacity_table(None, None) == ["No full-budget branch has been trained yet."]
