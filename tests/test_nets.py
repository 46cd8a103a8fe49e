"""The `paper` preset (Isong 2025, arXiv 2501.15547): parameter counts, weight transfer and initialisation."""

from __future__ import annotations

import pytest
import torch

from edgecnn.nets import get_preset
from edgecnn.nets.paper import Branch, feature_map_size
from edgecnn.nets.stats import count_macs, count_parameters
from edgecnn.errors import ConfigError


def _unified(channels: int, side: int):
    preset = get_preset("paper")
    a = preset.make_branch(channels, side, 10)
    b = preset.make_branch(channels, side, 10)
    return a, b, preset.make_unified(a, b, 10)


@pytest.mark.parametrize("channels, side, expected", [(1, 28, 14862), (3, 32, 19622)])
def test_unified_parameter_count(channels, side, expected):
    _, _, unified = _unified(channels, side)
    assert count_parameters(unified) == expected


def test_feature_map_sizes():
    assert feature_map_size(28) == 5
    assert feature_map_size(32) == 6


def test_transferred_heads_equal_branch_logits():
    torch.manual_seed(0)
    a, b, unified = _unified(1, 28)
    # Perturb the branches away from their initial weights, as training would.
    with torch.no_grad():
        for parameter in list(a.parameters()) + list(b.parameters()):
            parameter.add_(torch.randn_like(parameter) * 0.05)
    unified = get_preset("paper").make_unified(a, b, 10)
    x = torch.rand(8, 1, 28, 28)
    head_a, head_b = unified.transferred_logits(x)
    torch.testing.assert_close(head_a, a(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(head_b, b(x), rtol=1e-5, atol=1e-5)
    # Both branches are transferred, not only the first.
    assert not torch.allclose(head_a, head_b)


def test_he_normal_initialisation_statistics():
    torch.manual_seed(0)
    branch = Branch(1, 28, 10)
    weight = branch.features[3].weight  # 20 x 10 x 3 x 3, fan_in 90
    std = (2 / 90) ** 0.5
    assert abs(weight.std().item() - std) < 0.15 * std
    assert weight.abs().max().item() <= 2 * std / 0.87962566103423978 + 1e-6
    assert torch.count_nonzero(branch.features[0].bias) == 0


def test_macs_counted_for_mnist_model():
    _, _, unified = _unified(1, 28)
    # conv1 26*26*10*9 + conv2 11*11*20*90 per branch, conv heads 10*500, head 20*32 + 32*10.
    expected = 2 * (26 * 26 * 10 * 9 + 11 * 11 * 20 * 90 + 10 * 500) + 20 * 32 + 32 * 10
    assert count_macs(unified, (1, 28, 28)) == expected


def test_unknown_preset_rejected():
    with pytest.raises(ConfigError, match="unknown preset 'tiny'"):
        get_preset("tiny")
