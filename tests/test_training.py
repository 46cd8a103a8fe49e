"""The two training stages on slices of real data: freezing, resume, run directories and results."""

from __future__ import annotations

import json

import pytest
import torch

from tiny import tiny_config
from edgecnn import environment
from edgecnn.errors import CheckpointError, ConfigError
from edgecnn.modelfile import load_trained_model
from edgecnn.nets import get_preset
from edgecnn.training import checkpoint, rundir
from edgecnn.training.config import TrainConfig
from edgecnn.training.run import start_run, train
from edgecnn.training.stage2 import set_trainable


def test_run_directory_contents(tiny_mnist_run):
    for name in ("config.json", "metrics.jsonl", "results.json", "curves.png",
                 "checkpoints/stage1.pt", "checkpoints/final.pt", "checkpoints/last.pt"):
        assert (tiny_mnist_run / name).is_file(), name
    results = json.loads((tiny_mnist_run / "results.json").read_text())
    assert results["params"] == 14862
    assert results["test_images"] == 300
    assert 0 <= results["test_accuracy"] <= 100
    assert results["environment"]["packages"]["torch"]
    records = [json.loads(line) for line in (tiny_mnist_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["stage"] for r in records] == [1, 1, 2, 2, 2, 2, 2]
    assert records[2]["trainable_params"] == 1002  # the new head alone: 20*32+32 + 32*10+10


def test_tiny_run_learns_something(tiny_mnist_run):
    results = json.loads((tiny_mnist_run / "results.json").read_text())
    # 1,200 training images and one epoch per stage-2 step stay well above chance (10%) on MNIST.
    assert results["test_accuracy"] > 30


def test_final_checkpoint_reloads(tiny_mnist_run):
    trained = load_trained_model(tiny_mnist_run)
    assert trained.dataset == "mnist"
    assert trained.input_shape == (1, 28, 28)
    assert trained.normalization == {"scale": 1 / 255, "mean": [0.0], "std": [1.0]}
    assert not trained.model.training


def test_set_trainable_freezes_other_groups():
    preset = get_preset("paper")
    model = preset.make_unified(preset.make_branch(1, 28, 10), preset.make_branch(1, 28, 10), 10)
    assert set_trainable(model, ["head"]) == 1002
    assert not any(p.requires_grad for p in model.features_a.parameters())
    assert not model.conv_head_b.weight.requires_grad
    assert set_trainable(model, ["head", "conv_heads"]) == 1002 + 2 * 5010
    assert set_trainable(model, ["head", "conv_heads", "conv2", "conv1"]) == 14862


def test_head_step_leaves_frozen_weights_unchanged(tmp_path, data_dir):
    config = tiny_config("mnist", data_dir)
    config.stage1.max_epochs = 1
    config.stage2.schedule = config.stage2.schedule[:1]  # the new head alone
    run_dir = start_run(config, tmp_path, "head-only")
    train(run_dir)

    branches = checkpoint.load(run_dir / "checkpoints" / "stage1.pt")["model"]
    final = checkpoint.load(run_dir / "checkpoints" / "final.pt")["model"]
    assert torch.equal(final["features_a.0.weight"], branches["branch_original.features.0.weight"])
    assert torch.equal(final["features_b.3.weight"], branches["branch_augmented.features.3.weight"])
    assert torch.equal(final["conv_head_b.bias"], branches["branch_augmented.classifier.bias"])


class _InterruptAt:
    """A progress receiver that raises KeyboardInterrupt when an epoch with this description starts."""

    def __init__(self, description: str):
        self.description = description

    def epoch_started(self, description, total_batches):
        if description == self.description:
            raise KeyboardInterrupt

    def batch_finished(self):
        pass

    def epoch_finished(self):
        pass


@pytest.mark.parametrize("interrupt_at", ["stage 1 epoch 2", "stage 2 head epoch 1", "stage 2 unfreeze-conv2 epoch 1"])
def test_resume_matches_uninterrupted_run(tmp_path, data_dir, tiny_mnist_run, interrupt_at):
    run_dir = start_run(tiny_config("mnist", data_dir), tmp_path, "interrupted")
    with pytest.raises(KeyboardInterrupt):
        train(run_dir, _InterruptAt(interrupt_at))
    assert not (run_dir / "results.json").exists()
    resumed = train(run_dir)

    expected = checkpoint.load(tiny_mnist_run / "checkpoints" / "final.pt")["model"]
    actual = checkpoint.load(run_dir / "checkpoints" / "final.pt")["model"]
    for name, tensor in expected.items():
        assert torch.equal(tensor, actual[name]), name
    reference = json.loads((tiny_mnist_run / "results.json").read_text())
    assert resumed.results["test_accuracy"] == reference["test_accuracy"]


def test_finished_run_cannot_be_resumed(tiny_mnist_run):
    with pytest.raises(ConfigError, match="already finished"):
        train(tiny_mnist_run)


def test_run_directories_are_numbered(tmp_path, data_dir):
    config = tiny_config("mnist", data_dir)
    first = start_run(config, tmp_path, "same")
    second = start_run(config, tmp_path, "same")
    assert first.name == "same"
    assert second.name == "same-2"
    assert start_run(config, tmp_path, "same", exist_ok=True) == first


def test_exist_ok_never_replaces_finished_run(tiny_mnist_run):
    with pytest.raises(Exception, match="finished run"):
        rundir.new_run_dir(tiny_mnist_run.parent, tiny_mnist_run.name, exist_ok=True)


def test_checkpoint_with_code_is_rejected(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("executed",))

    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "kind": "edgecnn-model", "x": Payload()}, path)
    with pytest.raises(CheckpointError, match="not a readable edgecnn checkpoint"):
        checkpoint.load(path)


@pytest.mark.parametrize("content", [bytes(range(256)) * 20, b""])
def test_damaged_checkpoint_is_domain_error(tmp_path, content):
    path = tmp_path / "damaged.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not a readable edgecnn checkpoint") as error:
        checkpoint.load(path)
    assert "weights_only" not in str(error.value)


def test_truncated_checkpoint_is_domain_error(tiny_mnist_checkpoint, tmp_path):
    path = tmp_path / "truncated.pt"
    path.write_bytes(tiny_mnist_checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="damaged"):
        checkpoint.load(path)


def test_invalid_config_values_rejected(data_dir):
    config = tiny_config("mnist", data_dir)
    config.stage2.schedule[0].trainable = ["head", "decoder"]
    with pytest.raises(ConfigError, match="decoder"):
        config.validate()
    with pytest.raises(ConfigError, match="unknown_field"):
        TrainConfig.from_dict({"unknown_field": 1})


def test_cifar_run_has_19622_parameters(tiny_cifar_checkpoint):
    trained = load_trained_model(tiny_cifar_checkpoint)
    assert sum(p.numel() for p in trained.model.parameters()) == 19622
    assert trained.input_shape == (3, 32, 32)


def test_results_record_commit_at_start(tmp_path, data_dir, monkeypatch):
    # A commit made while a run trains must not be credited with its results.
    commits = iter(["commit-at-start", "commit-made-during-training"])
    current = {"commit": next(commits)}
    monkeypatch.setattr(environment, "source_commit", lambda root=None: current["commit"])

    def commit_after_first_epoch(record):
        if record["stage"] == 1 and record["epoch"] == 1:
            current["commit"] = next(commits)

    config = tiny_config("mnist", data_dir, method="single-branch")
    run_dir = start_run(config, tmp_path, "commit")
    results = train(run_dir, on_epoch=commit_after_first_epoch).results
    assert current["commit"] == "commit-made-during-training"
    assert results["environment"]["commit"] == "commit-at-start"
