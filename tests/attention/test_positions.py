"""Sinusoidal positions against the formula at hand-computed entries; learned positions."""

from __future__ import annotations

import math

import pytest
import torch

from tlcourse.attention import LearnedPositions, sinusoidal_positions


@pytest.mark.parametrize(("pos", "dim"), [(0, 0), (0, 1), (1, 0), (1, 1), (3, 4), (3, 5), (7, 14), (50, 15)])
def test_sinusoidal_matches_formula(pos, dim):
    d_model = 16
    pe = sinusoidal_positions(64, d_model)
    i = dim // 2
    angle = pos / 10000 ** (2 * i / d_model)
    expected = math.sin(angle) if dim % 2 == 0 else math.cos(angle)
    assert pe[pos, dim].item() == pytest.approx(expected, abs=1e-6)


def test_sinusoidal_hand_values():
    pe = sinusoidal_positions(4, 4)  # frequencies 1 and 1/100
    assert pe.shape == (4, 4) and pe.dtype == torch.float32
    assert pe[2].tolist() == pytest.approx([math.sin(2), math.cos(2), math.sin(0.02), math.cos(0.02)], abs=1e-6)


def test_sinusoidal_errors():
    with pytest.raises(ValueError, match="d_model: expected an even number"):
        sinusoidal_positions(4, 5)
    with pytest.raises(ValueError, match="n_positions: expected a positive int"):
        sinusoidal_positions(0, 4)


def test_learned_positions_add_the_right_rows():
    torch.manual_seed(0)
    pos = LearnedPositions(8, 4)
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(pos(x), x + pos.weight[:3])
    torch.testing.assert_close(pos(x, offset=5), x + pos.weight[5:8])
    assert pos.weight.std().item() == pytest.approx(0.02, abs=0.01)
    with pytest.raises(ValueError, match="offset: expected 0 <= offset and offset \\+ T <= n_positions=8"):
        pos(x, offset=6)
    with pytest.raises(ValueError, match=r"x: expected a 3-D tensor \(B, T, 4\)"):
        pos(torch.randn(3, 4))
