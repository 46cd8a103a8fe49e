"""Training configuration files: fields laid over a preset's recipe, and values checked before any run starts."""

from __future__ import annotations

import json

import pytest

from edgecnn.errors import ConfigError
from edgecnn.sweep.space import read_config_file
from edgecnn.training.config import default_config


def _write(tmp_path, document) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    return path


def test_partial_file_keeps_preset_recipe(tmp_path):
    config = read_config_file(_write(tmp_path, {"stage1": {"max_epochs": 3}}))

    recipe = default_config("mnist", "edge")
    assert config.stage1.max_epochs == 3
    assert config.preset == "edge"
    assert config.stage1.optimizer == recipe.stage1.optimizer
    assert config.augment == recipe.augment
    assert config.stage2.schedule == recipe.stage2.schedule


def test_arguments_override_file_dataset_and_preset(tmp_path):
    path = _write(tmp_path, {"dataset": "mnist", "preset": "paper", "seed": 4})

    config = read_config_file(path, "cifar10", "edge")

    assert (config.dataset, config.preset, config.seed) == ("cifar10", "edge", 4)
    assert config.augment.crop_padding_px == default_config("cifar10", "edge").augment.crop_padding_px


def test_saved_config_reads_back_unchanged(tmp_path):
    saved = default_config("fashion-mnist", "paper")
    saved.seed = 7

    assert read_config_file(_write(tmp_path, saved.to_dict())) == saved


@pytest.mark.parametrize("document, message", [
    ({"stage1": {"max_epochs": "ten"}}, "invalid value 'ten' for stage1.max_epochs: expected a whole number"),
    ({"no_such_field": 1}, "unknown field 'no_such_field'"),
    ({"seed": {"value": 1}}, "unknown field 'seed.value'"),
])
def test_bad_file_names_file_and_field(tmp_path, document, message):
    with pytest.raises(ConfigError, match="config.json: ") as raised:
        read_config_file(_write(tmp_path, document))
    assert message in str(raised.value)
    assert str(raised.value).endswith("fix the file or drop --config")


def test_binary_file_rejected(tmp_path):
    path = tmp_path / "photo.json"
    path.write_bytes(bytes(range(128, 256)))
    with pytest.raises(ConfigError, match="photo.json: not a text file; pass a YAML or JSON"):
        read_config_file(path)


def test_top_level_list_rejected(tmp_path):
    with pytest.raises(ConfigError, match="must contain a mapping"):
        read_config_file(_write(tmp_path, [1, 2]))


@pytest.mark.parametrize("path, value, message", [
    ("stage1.learning_rate", -0.01, "invalid stage1.learning_rate -0.01; use a number above 0"),
    ("stage1.max_epochs", -3, "invalid stage1.max_epochs -3; use 1 or more"),
    ("stage1.patience_epochs", 0, "invalid stage1.patience_epochs 0"),
    ("stage2.batch_size", 0, "invalid stage2.batch_size 0"),
    ("channels", 2, "invalid channels 2; use 1 (grayscale) or 3 (RGB)"),
])
def test_validate_names_field_and_fix(path, value, message):
    config = default_config("mnist", "edge")
    section, _, name = path.rpartition(".")
    setattr(getattr(config, section) if section else config, name, value)

    with pytest.raises(ConfigError, match="invalid") as raised:
        config.validate()
    assert str(raised.value).startswith(message)


def test_validate_names_schedule_step():
    config = default_config("mnist", "edge")
    config.stage2.schedule[-1].learning_rate = 0.0

    with pytest.raises(ConfigError) as raised:
        config.validate()
    assert str(raised.value).startswith("invalid stage2.schedule.fine-tune.learning_rate 0.0")
