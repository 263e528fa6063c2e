"""Mask builders: shapes, values, broadcasting, and errors."""

from __future__ import annotations

import pytest
import torch

from tlcourse.attention import causal_mask, combine_masks, padding_mask


def test_padding_mask_shape_and_values():
    m = padding_mask(torch.tensor([[1, 1, 0], [1, 0, 0]]))
    assert m.dtype == torch.bool and m.shape == (2, 1, 1, 3)
    assert m[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]
    assert torch.equal(padding_mask(torch.tensor([[True, False]])), torch.tensor([[[[True, False]]]]))


def test_causal_mask_is_lower_triangular():
    m = causal_mask(4)
    assert m.shape == (4, 4) and m.dtype == torch.bool
    for i in range(4):
        for j in range(4):
            assert m[i, j].item() == (j <= i)


@pytest.mark.parametrize(("Tq", "Tk"), [(1, 1), (1, 5), (3, 7), (4, 4)])
def test_causal_mask_with_cached_keys_is_bottom_right_aligned(Tq, Tk):
    """Query i sits at absolute position Tk - Tq + i: the mask is the last Tq rows of the full (Tk, Tk) mask."""
    m = causal_mask(Tq, Tk)
    assert m.shape == (Tq, Tk) and m.dtype == torch.bool
    assert torch.equal(m, causal_mask(Tk)[Tk - Tq :])
    assert torch.equal(causal_mask(Tq, Tq), causal_mask(Tq))
    assert m[-1].all()  # the newest query sees every key


def test_combine_broadcasts_to_4d():
    pad = padding_mask(torch.tensor([[1, 1, 0], [1, 1, 1]]))
    per_head = torch.ones(2, 4, 3, 3, dtype=torch.bool)
    per_head[:, 1, :, 0] = False
    m = combine_masks(pad, causal_mask(3), per_head)
    assert m.shape == (2, 4, 3, 3)
    expected = pad & causal_mask(3) & per_head
    assert torch.equal(m, expected)
    assert combine_masks(causal_mask(3)).shape == (1, 1, 3, 3)
    assert combine_masks() is None and combine_masks(None, None) is None


def test_mask_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"attention_mask: expected a 2-D tensor \(B, Tk\), got shape \(3,\)"):
        padding_mask(torch.tensor([1, 1, 0]))
    with pytest.raises(ValueError, match=r"attention_mask: expected only 0 and 1, got values \[0, 1, 2\]"):
        padding_mask(torch.tensor([[1, 2, 0]]))
    with pytest.raises(TypeError, match="attention_mask: expected an integer or bool tensor"):
        padding_mask(torch.tensor([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="Tq: expected a positive sequence length, got 0"):
        causal_mask(0)
    with pytest.raises(TypeError, match="Tq: expected an int"):
        causal_mask(3.0)
    with pytest.raises(TypeError, match="Tk: expected an int"):
        causal_mask(3, 4.0)
    with pytest.raises(ValueError, match="Tk: expected at least Tq=3 keys"):
        causal_mask(3, 2)
    with pytest.raises(ValueError, match=r"masks\[0\]: expected a 2-D \(Tq, Tk\) or 4-D"):
        combine_masks(torch.ones(2, 1, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"masks\[1\]: expected dtype torch.bool"):
        combine_masks(causal_mask(3), torch.ones(3, 3))
    with pytest.raises(ValueError, match="masks: expected shapes that broadcast together"):
        combine_masks(causal_mask(3), causal_mask(4))
