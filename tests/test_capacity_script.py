"""benchmarks/capacity.py: the full-budget branch fits the budget, and finished runs are recorded."""

from __future__ import annotations

import json

import pytest

from edgecnn.nets import edge
from edgecnn.nets.stats import count_parameters
from scripts import load_script

capacity = load_script("benchmarks/capacity.py")


@pytest.mark.parametrize("channels, side, budget", [(1, 28, 14_862), (3, 32, 19_622)])
def test_full_budget_branch_fits_budget(channels, side, budget):
    branch = edge.Branch(channels, side, 10, widths=capacity.FULL_BUDGET_WIDTHS[channels])
    params = count_parameters(branch)
    assert params <= budget
    # About the whole budget: more than the two half-budget branches of the preset together.
    assert params > 2 * count_parameters(edge.Branch(channels, side, 10))


def test_record_replaces_same_run(tmp_path):
    out = tmp_path / "capacity.json"

    def result(seed: int, accuracy: float) -> dict:
        return {"dataset": "cifar10", "widths": [28, 56, 88, 100], "epochs": 40, "seed": seed,
                "test_accuracy": accuracy}

    capacity.record(result(1, 80.0), out)
    capacity.record(result(0, 81.0), out)
    capacity.record(result(1, 82.0), out)
    runs = json.loads(out.read_text())["runs"]
    assert [(run["seed"], run["test_accuracy"]) for run in runs] == [(0, 81.0), (1, 82.0)]
