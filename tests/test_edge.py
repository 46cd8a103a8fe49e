"""The edge preset: parameter budgets, weight transfer, its training recipe, a tiny real run and BN-free export."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tiny import tiny_config
from edgecnn.errors import ConfigError
from edgecnn.nets import LAYER_GROUPS, PRESET_NAMES, get_preset
from edgecnn.nets.stats import count_parameters
from edgecnn.training import checkpoint
from edgecnn.training.augment import augment_batch, random_crop, random_hflip
from edgecnn.training.config import AugmentConfig, TrainConfig, default_config
from edgecnn.training.loop import learning_rate_at
from edgecnn.training.stage2 import freeze_batch_norm_statistics, set_trainable

# Parameter counts of the `paper` preset's unified model, which the whole edge unified model must not exceed.
PAPER_PARAMS = {(1, 28): 14862, (3, 32): 19622}


def _trained_looking_branches(channels: int, side: int):
    """Two edge branches with perturbed weights and batch-norm statistics, as training would leave them."""
    preset = get_preset("edge")
    torch.manual_seed(0)
    branches = [preset.make_branch(channels, side, 10), preset.make_branch(channels, side, 10)]
    with torch.no_grad():
        for branch in branches:
            for parameter in branch.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.05)
            for name, buffer in branch.named_buffers():
                if name.endswith("running_mean"):
                    buffer.normal_(0, 0.1)
                elif name.endswith("running_var"):
                    buffer.uniform_(0.5, 2.0)
    return branches


@pytest.mark.parametrize("channels, side", [(1, 28), (3, 32)])
def test_unified_parameter_budget(channels, side):
    preset = get_preset("edge")
    unified = preset.make_unified(preset.make_branch(channels, side, 10), preset.make_branch(channels, side, 10), 10)
    assert count_parameters(unified) <= PAPER_PARAMS[(channels, side)]
    # The budget goes to the branches: the head is one 20-to-10 Dense layer.
    assert count_parameters(unified.head) == 210


@pytest.mark.parametrize("channels, side", [(1, 28), (3, 32)])
def test_unified_starts_as_branch_mean(channels, side):
    a, b = _trained_looking_branches(channels, side)
    unified = get_preset("edge").make_unified(a, b, 10).eval()
    a.eval()
    b.eval()
    x = torch.rand(8, channels, side, side)
    with torch.no_grad():
        logits_a, logits_b = unified.transferred_logits(x)
        torch.testing.assert_close(logits_a, a(x), rtol=0, atol=0)
        torch.testing.assert_close(logits_b, b(x), rtol=0, atol=0)
        assert not torch.allclose(logits_a, logits_b)
        torch.testing.assert_close(unified(x), (a(x) + b(x)) / 2, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", PRESET_NAMES)
def test_layer_groups_cover_every_parameter(name):
    preset = get_preset(name)
    unified = preset.make_unified(preset.make_branch(1, 28, 10), preset.make_branch(1, 28, 10), 10)
    groups = unified.layer_groups()
    assert tuple(groups) == LAYER_GROUPS[name]
    grouped = [id(p) for modules in groups.values() for module in modules for p in module.parameters()]
    assert len(grouped) == len(set(grouped))  # no parameter in two groups
    assert set(grouped) == {id(p) for p in unified.parameters()}


def test_frozen_batch_norm_keeps_statistics():
    a, b = _trained_looking_branches(1, 28)
    unified = get_preset("edge").make_unified(a, b, 10)
    set_trainable(unified, ["head", "classifiers", "late_blocks"])
    unified.train()
    freeze_batch_norm_statistics(unified)
    frozen_bn = unified.features_a[0][1]  # the stem's batch norm, in the frozen early blocks
    trained_bn = unified.features_a[3][1][1]  # the last pointwise convolution's batch norm
    frozen_before = frozen_bn.running_mean.clone()
    trained_before = trained_bn.running_mean.clone()
    unified(torch.rand(16, 1, 28, 28))
    assert torch.equal(frozen_bn.running_mean, frozen_before)
    assert not torch.equal(trained_bn.running_mean, trained_before)


def test_learning_rate_schedules():
    total = 101
    assert learning_rate_at("constant", 0.1, 50, total, 0.25) == 0.1
    assert learning_rate_at("cosine", 0.1, 0, total, 0.25) == pytest.approx(0.1)
    assert learning_rate_at("cosine", 0.1, 50, total, 0.25) == pytest.approx(0.05)
    assert learning_rate_at("cosine", 0.1, 100, total, 0.25) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate_at("onecycle", 0.1, 0, total, 0.25) == pytest.approx(0.004)
    assert learning_rate_at("onecycle", 0.1, 25, total, 0.25) == pytest.approx(0.1)
    assert learning_rate_at("onecycle", 0.1, 100, total, 0.25) == pytest.approx(0.0, abs=1e-12)
    rates = [learning_rate_at("onecycle", 0.1, step, total, 0.25) for step in range(total)]
    assert max(rates) == pytest.approx(0.1)
    assert all(not math.isnan(rate) for rate in rates)


def test_random_crop_is_shifted_window():
    images = torch.rand(6, 3, 8, 8)
    padding = 2
    cropped = random_crop(images, padding, "zeros", torch.Generator().manual_seed(0))
    assert cropped.shape == images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    for image, crop in zip(padded, cropped):
        windows = [image[:, top:top + 8, left:left + 8] for top in range(5) for left in range(5)]
        assert any(torch.equal(crop, window) for window in windows)


def test_random_hflip_flips_some_images():
    images = torch.rand(64, 1, 5, 5)
    flipped = random_hflip(images, torch.Generator().manual_seed(0))
    same = [torch.equal(f, i) for f, i in zip(flipped, images)]
    mirrored = [torch.equal(f, i.flip(2)) for f, i in zip(flipped, images)]
    assert all(s or m for s, m in zip(same, mirrored))
    assert 10 < sum(mirrored) < 54


def test_augment_batch_off_is_identity():
    off = AugmentConfig(rotation_deg=0.0, zoom=0.0, translate=0.0)
    images = torch.rand(4, 1, 28, 28)
    assert torch.equal(augment_batch(images, off, torch.Generator().manual_seed(0)), images)


def test_edge_recipe_per_dataset():
    mnist = default_config("mnist", "edge")
    assert not mnist.augment.hflip  # a flipped digit is another symbol or none
    assert mnist.augment.crop_padding_px == 0
    assert mnist.augment.rotation_deg > 0
    cifar = default_config("cifar10", "edge")
    assert cifar.augment.hflip
    assert cifar.augment.crop_padding_px == 4
    assert cifar.validation_size == 5000
    for dataset in ("mnist", "fashion-mnist", "cifar10", "folder"):
        config = default_config(dataset, "edge")
        config.validate()
        assert config.stage1.lr_schedule == "onecycle"
        assert config.stage1.label_smoothing > 0
    assert default_config("cifar10", "paper").to_dict() == TrainConfig(dataset="cifar10").to_dict()


def test_edge_rejects_paper_group_names():
    config = TrainConfig(preset="edge")  # TrainConfig's default schedule uses the `paper` preset's group names
    with pytest.raises(ConfigError, match="conv_heads"):
        config.validate()
    config = default_config("mnist", "edge")
    config.stage1.lr_schedule = "linear"
    with pytest.raises(ConfigError, match="linear"):
        config.validate()


def _tiny_edge_config(data_dir):
    config = tiny_config("mnist", data_dir)
    recipe = default_config("mnist", "edge")
    config.preset = "edge"
    config.augment, config.stage1, config.stage2 = recipe.augment, recipe.stage1, recipe.stage2
    config.stage1.max_epochs = 2
    config.stage1.batch_size = config.stage2.batch_size = 32  # more steps on 1,200 images
    for step in config.stage2.schedule:
        step.epochs = 1
    return config


@pytest.fixture(scope="module")
def tiny_edge_run(tmp_path_factory, data_dir):
    """A finished run directory of the edge preset trained briefly on a slice of real MNIST."""
    from edgecnn.training.run import start_run, train

    run_dir = start_run(_tiny_edge_config(data_dir), tmp_path_factory.mktemp("runs"), "tiny-edge")
    train(run_dir)
    return run_dir


def test_tiny_edge_run_learns(tiny_edge_run):
    results = json.loads((tiny_edge_run / "results.json").read_text())
    assert results["params"] == 14790
    # 1,200 training images and two stage-1 epochs stay well above chance (10%) on MNIST.
    assert results["test_accuracy"] > 50
    records = [json.loads(line) for line in (tiny_edge_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == ["dual"] * 2 + [step.name for step in
                                                           default_config("mnist", "edge").stage2.schedule]
    # The one-cycle learning rate has reached about zero at the last batch of stage 1.
    assert records[1]["learning_rate"] < 1e-6


def test_edge_resume_matches_uninterrupted_run(tmp_path, data_dir, tiny_edge_run):
    from edgecnn.training.run import start_run, train

    class InterruptFineTune:
        def epoch_started(self, description, total_batches):
            if description == "stage 2 unfreeze-late_blocks epoch 1":
                raise KeyboardInterrupt

        def batch_finished(self):
            pass

        def epoch_finished(self):
            pass

    run_dir = start_run(_tiny_edge_config(data_dir), tmp_path, "interrupted")
    with pytest.raises(KeyboardInterrupt):
        train(run_dir, InterruptFineTune())
    train(run_dir)
    expected = checkpoint.load(tiny_edge_run / "checkpoints" / "final.pt")["model"]
    actual = checkpoint.load(run_dir / "checkpoints" / "final.pt")["model"]
    for name, tensor in expected.items():
        assert torch.equal(tensor, actual[name]), name


def test_export_has_no_batch_norm(tiny_edge_run, tmp_path, data_dir):
    from edgecnn.export.config import ExportConfig
    from edgecnn.export.pipeline import export_model

    result = export_model(tiny_edge_run, ExportConfig(out_dir=tmp_path, data_dir=data_dir, test_limit=200))
    manifest = json.loads((tmp_path / "export.json").read_text())
    assert sorted(entry["format"] for entry in manifest["artifacts"]) == ["onnx", "tflite"]
    for entry in manifest["artifacts"]:
        ops = [op.lower() for op in entry["ops"]]
        assert not any("batch" in op or "norm" in op for op in ops), (entry["path"], ops)
        assert entry["max_abs_diff"] < 1e-4, entry["path"]
    for artifact in result.artifacts:
        assert artifact.validation.agreement == 100.0, artifact.spec.file_name


def test_cli_uses_edge_recipe(tmp_path, data_dir):
    from typer.testing import CliRunner

    from edgecnn.cli import app

    args = ["train", "--dataset", "mnist", "--preset", "edge", "--data-dir", str(data_dir), "--project",
            str(tmp_path), "--train-limit", "300", "--validation-size", "200", "--test-limit", "100",
            "--stage1-epochs", "1", "--fine-tune-epochs", "1", "--threads", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "mnist-edge" / "config.json").read_text())
    recipe = default_config("mnist", "edge")
    # Options given on the command line win; every other value comes from the edge recipe.
    assert saved["validation_size"] == 200
    assert saved["stage1"]["max_epochs"] == 1
    assert saved["stage2"]["schedule"][-1]["epochs"] == 1
    assert saved["stage1"]["optimizer"] == recipe.stage1.optimizer
    assert saved["stage1"]["batch_size"] == recipe.stage1.batch_size
    assert saved["augment"]["rotation_deg"] == recipe.augment.rotation_deg
    assert saved["stage2"]["augment"] is True
