"""The ablation methods: the augmented branch alone, and stage 1 followed by plain fine-tuning."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tiny import tiny_config
from edgecnn.cli import app
from edgecnn.errors import ConfigError
from edgecnn.export.config import ExportConfig
from edgecnn.export.pipeline import export_model
from edgecnn.modelfile import load_trained_model
from edgecnn.nets import LAYER_GROUPS, get_preset
from edgecnn.nets.stats import count_parameters
from edgecnn.training.config import default_config, stage2_schedule
from edgecnn.training.run import start_run, train


@pytest.fixture(scope="module")
def single_branch_run(tmp_path_factory, data_dir):
    config = tiny_config("mnist", data_dir, method="single-branch")
    run_dir = start_run(config, tmp_path_factory.mktemp("single"), "tiny-single")
    train(run_dir)
    return run_dir


def _records(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_single_branch_trains_augmented_branch_only(single_branch_run):
    records = _records(single_branch_run)
    assert [r["stage"] for r in records] == [1, 1]
    assert "val_accuracy_augmented" in records[0]
    assert "val_accuracy_original" not in records[0]
    results = json.loads((single_branch_run / "results.json").read_text())
    assert results["method"] == "single-branch"
    assert results["epochs"] == {"stage1": 2, "stage2": 0}
    branch = get_preset("paper").make_branch(1, 28, 10)
    assert results["params"] == count_parameters(branch)
    # 1,200 images and two epochs stay above chance (10%).
    assert results["test_accuracy"] > 20


def test_single_branch_checkpoint_reloads_and_exports(single_branch_run, tmp_path, data_dir):
    trained = load_trained_model(single_branch_run)
    assert type(trained.model).__name__ == "Branch"
    result = export_model(single_branch_run, ExportConfig(formats=["onnx"], out_dir=tmp_path, data_dir=data_dir,
                                                          test_limit=200))
    [artifact] = result.artifacts
    assert artifact.problem is None
    assert artifact.validation.max_abs_diff < 1e-4
    # The artifact records which method trained it, so a lone branch is not taken for a unified model.
    assert trained.method == "single-branch"
    manifest = json.loads(result.manifest_path.read_text())
    assert manifest["artifacts"][0]["metadata"]["method"] == "single-branch"


def test_plain_fine_tune_single_step(tmp_path, data_dir):
    config = tiny_config("mnist", data_dir, method="plain-fine-tune")
    config.stage1.max_epochs = 1
    steps = stage2_schedule(config)
    assert len(steps) == 1
    assert steps[0].trainable == list(LAYER_GROUPS["paper"])
    assert steps[0].epochs == sum(step.epochs for step in config.stage2.schedule)
    assert steps[0].optimizer == config.stage2.schedule[-1].optimizer

    run_dir = start_run(config, tmp_path, "tiny-plain")
    train(run_dir)
    stage2 = [r for r in _records(run_dir) if r["stage"] == 2]
    assert {r["step"] for r in stage2} == {"plain-fine-tune"}
    assert len(stage2) == steps[0].epochs
    assert all(r["trainable_params"] == 14862 for r in stage2)


def test_two_stage_schedule_is_unchanged():
    config = default_config("mnist", "edge")
    assert stage2_schedule(config) == config.stage2.schedule
    config.method = "single-branch"
    assert stage2_schedule(config) == []


def test_unknown_method_is_rejected(data_dir):
    config = tiny_config("mnist", data_dir, method="three-stage")
    with pytest.raises(ConfigError, match="invalid method 'three-stage'; choose one of: two-stage"):
        config.validate()


def test_cli_method_option(tmp_path, data_dir):
    result = CliRunner().invoke(app, ["train", "--method", "single", "--data-dir", str(data_dir),
                                      "--project", str(tmp_path)])
    assert result.exit_code == 2
    assert "single-branch" in result.output


def test_ablation_run_named_for_method(tmp_path, data_dir):
    config = tiny_config("mnist", data_dir, method="plain-fine-tune")
    assert start_run(config, tmp_path).name == "mnist-paper-plain-fine-tune"
    config.method = "two-stage"
    assert start_run(config, tmp_path).name == "mnist-paper"


@pytest.mark.parametrize("field", ["rotation_deg", "zoom", "translate", "brightness"])
def test_negative_augmentation_rejected(data_dir, field):
    config = tiny_config("mnist", data_dir)
    setattr(config.augment, field, -1.0)
    with pytest.raises(ConfigError, match=f"invalid {field.replace('_', ' ')} -1.0; use 0"):
        config.validate()
