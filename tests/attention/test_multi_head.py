"""Multi-head attention: split/merge, no head mixing, no future leakage, explicit = fused, errors."""

from __future__ import annotations

import pytest
import torch

from tlcourse.attention import (
    MultiHeadAttention,
    causal_mask,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    split_heads,
)


def _mha(use_sdpa: bool = True, seed: int = 0, **kwargs) -> MultiHeadAttention:
    torch.manual_seed(seed)
    return MultiHeadAttention(d_model=16, n_heads=4, use_sdpa=use_sdpa, **kwargs).eval()


def test_split_merge_round_trip_and_layout():
    x = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(0))
    h = split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4)
    torch.testing.assert_close(h[:, 1], x[..., 4:8])  # head 1 = channels 4..7
    assert torch.equal(merge_heads(h), x)
    assert torch.equal(split_heads(merge_heads(h), 3), h)


def test_explicit_and_fused_paths_agree_with_masks():
    x = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(1))
    mask = padding_mask(torch.tensor([[1] * 6, [1] * 4 + [0] * 2])) & causal_mask(6)
    explicit, fused = _mha(False), _mha(True)
    torch.testing.assert_close(explicit(x, mask), fused(x, mask), atol=1e-5, rtol=0)
    y, w = fused(x, mask, return_weights=True)
    torch.testing.assert_close(y, fused(x, mask), atol=1e-5, rtol=0)
    assert w.shape == (2, 4, 6, 6)


def test_causal_attention_has_no_future_leakage():
    mha = _mha()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 7, 16, generator=g)
    mask = causal_mask(7)
    y = mha(x, mask)
    for t in range(6):
        x2 = x.clone()
        x2[:, t + 1 :] = torch.randn(2, 6 - t, 16, generator=g)
        y2 = mha(x2, mask)
        torch.testing.assert_close(y2[:, : t + 1], y[:, : t + 1], atol=1e-6, rtol=0)
        assert not torch.allclose(y2[:, t + 1 :], y[:, t + 1 :])


def test_padding_keys_do_not_leak():
    mha = _mha()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 5, 16, generator=g)
    mask = padding_mask(torch.tensor([[1, 1, 1, 0, 0]]))
    x2 = x.clone()
    x2[:, 3:] = torch.randn(1, 2, 16, generator=g)
    torch.testing.assert_close(mha(x2, mask)[:, :3], mha(x, mask)[:, :3], atol=1e-6, rtol=0)


def test_heads_do_not_mix_in_attention():
    g = torch.Generator().manual_seed(4)
    q, k, v = (torch.randn(2, 4, 5, 3, generator=g) for _ in range(3))
    out, _ = scaled_dot_product_attention(q, k, v, causal_mask(5))
    for h in range(4):
        v2 = v.clone()
        v2[:, h] += 1.0
        out2, _ = scaled_dot_product_attention(q, k, v2, causal_mask(5))
        changed = (out2 - out).abs().amax(dim=(0, 2, 3)) > 1e-4
        assert changed.tolist() == [i == h for i in range(4)]


@pytest.mark.parametrize("use_sdpa", [False, True])
def test_heads_do_not_mix_in_the_module(use_sdpa):
    """Perturbing head h's rows of the value projection changes only head h's slice of the context."""
    mha = _mha(use_sdpa)
    contexts = []
    mha.out.register_forward_pre_hook(lambda module, args: contexts.append(args[0]))
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        mha(x)
        for h in range(4):
            mha.value.weight[4 * h : 4 * h + 4] += 0.5
            mha(x)
            mha.value.weight[4 * h : 4 * h + 4] -= 0.5
    base = split_heads(contexts[0], 4)  # (B, H, T, hs)
    for h, context in enumerate(contexts[1:]):
        changed = (split_heads(context, 4) - base).abs().amax(dim=(0, 2, 3)) > 1e-4
        assert changed.tolist() == [i == h for i in range(4)]


def test_dropout_applies_only_in_training():
    mha = _mha(dropout=0.5)
    x = torch.randn(1, 4, 16, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(mha(x), mha(x))
    mha.train()
    torch.manual_seed(0)
    _, w = mha(x, return_weights=True)
    assert (w == 0).any()


def test_module_errors_name_the_argument():
    with pytest.raises(ValueError, match="d_model: expected a multiple of n_heads=3, got 16"):
        MultiHeadAttention(16, 3)
    with pytest.raises(ValueError, match="n_heads: expected a positive int"):
        MultiHeadAttention(16, 0)
    with pytest.raises(ValueError, match=r"x: expected a 3-D tensor \(B, T, 16\), got shape \(2, 5, 8\)"):
        _mha()(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="mask: expected a shape that broadcasts"):
        _mha()(torch.randn(2, 5, 16), causal_mask(4))
    with pytest.raises(ValueError, match="x: expected a last dimension divisible by n_heads=3, got 8"):
        split_heads(torch.randn(2, 5, 8), 3)
    with pytest.raises(ValueError, match=r"x: expected a 4-D tensor \(B, H, T, hs\)"):
        merge_heads(torch.randn(2, 5, 8))


@pytest.mark.parametrize("use_sdpa", [False, True])
@pytest.mark.parametrize("chunks", [[1] * 7, [4, 1, 1, 1], [3, 4]])
def test_kv_cache_decoding_equals_one_full_causal_pass(use_sdpa, chunks):
    """Prefill then steps, each attending over the cached keys, give the rows of one full causal pass."""
    mha = _mha(use_sdpa)
    x = torch.randn(2, 7, 16, generator=torch.Generator().manual_seed(7))
    full = mha(x, causal_mask(7))
    outputs, past, start = [], None, 0
    for size in chunks:
        T_past = start
        y, past = mha(x[:, start : start + size], causal_mask(size, T_past + size), past_kv=past, use_cache=True)
        assert [t.shape for t in past] == [(2, 4, T_past + size, 4)] * 2
        outputs.append(y)
        start += size
    torch.testing.assert_close(torch.cat(outputs, dim=1), full, atol=1e-6, rtol=0)


def test_kv_cache_with_a_padding_mask_over_past_and_new_keys():
    mha = _mha()
    x = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(8))
    attention_mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])  # left padding in sequence 0
    full = mha(x, padding_mask(attention_mask) & causal_mask(6))
    _, past = mha(x[:, :5], padding_mask(attention_mask[:, :5]) & causal_mask(5), use_cache=True)
    last = mha(x[:, 5:], padding_mask(attention_mask) & causal_mask(1, 6), past_kv=past)
    torch.testing.assert_close(last, full[:, 5:], atol=1e-6, rtol=0)


def test_return_convention_y_then_weights_then_present():
    mha = _mha()
    x = torch.randn(1, 3, 16, generator=torch.Generator().manual_seed(9))
    y = mha(x)
    assert isinstance(y, torch.Tensor)
    y_w, w = mha(x, return_weights=True)
    y_p, (k, v) = mha(x, use_cache=True)
    y_wp, w2, (k2, v2) = mha(x, return_weights=True, use_cache=True)
    for other in (y_w, y_p, y_wp):
        torch.testing.assert_close(other, y, atol=1e-6, rtol=0)
    assert w.shape == w2.shape == (1, 4, 3, 3) and k.shape == v.shape == k2.shape == (1, 4, 3, 4)
    torch.testing.assert_close(k, split_heads(mha.key(x), 4))  # the cache holds the projected keys, per head
    torch.testing.assert_close(v2, split_heads(mha.value(x), 4))
    _, w_cached = mha(x[:, 2:], past_kv=(k[:, :, :2], v[:, :, :2]), return_weights=True)
    assert w_cached.shape == (1, 4, 1, 3)


def test_bad_past_kv_names_the_argument():
    mha, x = _mha(), torch.randn(2, 1, 16)
    good = torch.zeros(2, 4, 3, 4)
    with pytest.raises(ValueError, match=r"past_kv: expected a pair \(k_past, v_past\)"):
        mha(x, past_kv=good)
    with pytest.raises(ValueError, match=r"past_kv: expected two tensors of shape \(B, H, T_past, hs\) = \(2, 4, "):
        mha(x, past_kv=(good, torch.zeros(2, 4, 2, 4)))
    with pytest.raises(ValueError, match="past_kv: expected two tensors"):
        mha(x, past_kv=(torch.zeros(1, 4, 3, 4),) * 2)
    with pytest.raises(ValueError, match="mask: expected a shape that broadcasts"):
        mha(x, causal_mask(2, 3), past_kv=(good, good))  # 1 query over 3 + 1 keys needs (.., 1, 4)


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_equals_torch_multihead_attention_with_causal_and_padding_masks(use_sdpa):
    # torch.nn.MultiheadAttention stacks W_Q, W_K, W_V in in_proj_weight; its bool masks mean "may NOT attend".
    ours = _mha(use_sdpa)
    theirs = torch.nn.MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True).eval()
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.query.weight, ours.key.weight, ours.value.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        theirs.out_proj.weight.copy_(ours.out.weight)
        theirs.out_proj.bias.copy_(ours.out.bias)
    x = torch.randn(3, 6, 16, generator=torch.Generator().manual_seed(1))
    valid = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 2 + [0] * 4])
    expected, _ = theirs(x, x, x, need_weights=False)
    torch.testing.assert_close(ours(x), expected, atol=1e-5, rtol=1e-5)
    expected, _ = theirs(x, x, x, attn_mask=~causal_mask(6), key_padding_mask=~valid.bool(), need_weights=False)
    actual = ours(x, padding_mask(valid) & causal_mask(6))
    torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)  # every query keeps at least key 0


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_is_causal_equals_passing_the_causal_mask(use_sdpa):
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_model=12, n_heads=3, use_sdpa=use_sdpa).eval()
    x = torch.randn(2, 5, 12)
    torch.testing.assert_close(mha(x, is_causal=True), mha(x, causal_mask(5)), atol=1e-6, rtol=0)
