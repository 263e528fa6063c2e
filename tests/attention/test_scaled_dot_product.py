"""The explicit attention path against a hand computation and PyTorch's kernel; explicit vs fast path on every mask."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from tlcourse.attention import causal_mask, combine_masks, padding_mask, scaled_dot_product_attention, sdpa_attention

ATOL = 1e-5


def _qkv(B: int = 2, H: int = 3, Tq: int = 5, Tk: int = 5, d: int = 4, dv: int = 6, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, H, Tq, d, generator=g), torch.randn(B, H, Tk, d, generator=g),
            torch.randn(B, H, Tk, dv, generator=g))


def test_hand_computed_example():
    q = torch.tensor([[[[1.0, 2.0]]]])  # (1, 1, 1, 2)
    k = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]]])  # (1, 1, 3, 2)
    v = torch.tensor([[[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]]])  # (1, 1, 3, 2)
    scores = [1 / math.sqrt(2), 2 / math.sqrt(2), 3 / math.sqrt(2)]
    z = sum(math.exp(s) for s in scores)
    w = [math.exp(s) / z for s in scores]
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(weights, torch.tensor([[[w]]]), atol=1e-6, rtol=0)
    expected = [w[0] + 2 * w[2], w[1] + 2 * w[2]]
    torch.testing.assert_close(out, torch.tensor([[[expected]]]), atol=1e-6, rtol=0)


def _masks() -> dict[str, torch.Tensor | None]:
    pad = padding_mask(torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]))  # (2, 1, 1, 5)
    general = torch.rand(2, 3, 5, 5, generator=torch.Generator().manual_seed(1)) > 0.3
    general[..., 0] = True  # every row keeps a key
    return {
        "none": None,
        "padding": pad,
        "causal": causal_mask(5),
        "padding+causal": combine_masks(pad, causal_mask(5)),
        "general 4-D per head": general,
        "general 4-D shared by heads": general[:, :1],
    }


@pytest.mark.parametrize("name", list(_masks()))
def test_explicit_equals_torch_and_fast_path(name):
    mask = _masks()[name]
    q, k, v = _qkv()
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=ATOL, rtol=0)
    torch.testing.assert_close(out, sdpa_attention(q, k, v, mask), atol=ATOL, rtol=0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5), atol=ATOL, rtol=0)
    if mask is not None:
        assert (weights[~mask.expand_as(weights)] == 0).all()


def test_fully_masked_rows_are_zero_and_never_nan():
    q, k, v = _qkv()
    mask = torch.ones(2, 3, 5, 5, dtype=torch.bool)
    mask[0, 1, 2] = False  # one query row of one head
    mask[1, :, 4] = False  # the last query in every head
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    fast = sdpa_attention(q, k, v, mask)
    for t in (out, weights, fast):
        assert not t.isnan().any()
    for o in (out, fast):
        assert (o[0, 1, 2] == 0).all() and (o[1, :, 4] == 0).all()
    assert (weights[0, 1, 2] == 0).all() and (weights[1, :, 4] == 0).all()
    torch.testing.assert_close(out, fast, atol=ATOL, rtol=0)
    # rows that keep keys are untouched
    ref = F.scaled_dot_product_attention(q[0, 0], k[0, 0], v[0, 0])
    torch.testing.assert_close(out[0, 0], ref, atol=ATOL, rtol=0)


def test_padding_and_causal_fully_mask_a_left_padded_query():
    q, k, v = _qkv(B=1)
    mask = combine_masks(padding_mask(torch.tensor([[0, 1, 1, 1, 1]])), causal_mask(5))  # query 0 sees nothing
    out, _ = scaled_dot_product_attention(q, k, v, mask)
    fast = sdpa_attention(q, k, v, mask)
    assert not out.isnan().any() and not fast.isnan().any()
    assert (out[:, :, 0] == 0).all()
    torch.testing.assert_close(out, fast, atol=ATOL, rtol=0)


def test_gradients_are_finite_with_fully_masked_rows():
    q, k, v = (t.requires_grad_() for t in _qkv())
    mask = torch.ones(5, 5, dtype=torch.bool)
    mask[3] = False
    for fn in (lambda: scaled_dot_product_attention(q, k, v, mask)[0], lambda: sdpa_attention(q, k, v, mask)):
        fn().sum().backward()
        for t in (q, k, v):
            assert torch.isfinite(t.grad).all()
            t.grad = None


def test_dropout_only_in_training():
    q, k, v = _qkv()
    out, _ = scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=False)
    torch.testing.assert_close(out, scaled_dot_product_attention(q, k, v)[0])
    torch.manual_seed(0)
    _, w = scaled_dot_product_attention(q, k, v, dropout_p=0.5, training=True)
    assert (w == 0).any()
    torch.testing.assert_close(sdpa_attention(q, k, v, dropout_p=0.5), sdpa_attention(q, k, v))


def test_device_and_dtype_follow_inputs():
    q, k, v = (t.double() for t in _qkv())
    out, w = scaled_dot_product_attention(q, k, v, causal_mask(5, device=q.device))
    assert out.dtype == w.dtype == torch.float64 and out.device == q.device


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((torch.randn(2, 5, 4), torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4)), "q: expected a 4-D"),
        ((torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 3), torch.randn(2, 3, 5, 4)), "k: expected shape"),
        ((torch.randn(2, 3, 5, 4), torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4)), "v: expected shape"),
    ],
)
@pytest.mark.parametrize("fn", [scaled_dot_product_attention, sdpa_attention])
def test_wrong_qkv_shapes_raise(fn, args, needle):
    with pytest.raises(ValueError, match=needle):
        fn(*args)


@pytest.mark.parametrize("fn", [scaled_dot_product_attention, sdpa_attention])
def test_bad_masks_raise(fn):
    q, k, v = _qkv()
    expected = r"mask: expected a shape that broadcasts to \(B, H, Tq, Tk\) = \(2, 3, 5, 5\)"
    with pytest.raises(ValueError, match=expected):
        fn(q, k, v, torch.ones(2, 5, dtype=torch.bool)[:, None, :, None].expand(2, 1, 5, 4))
    with pytest.raises(TypeError, match="mask: expected dtype torch.bool"):
        fn(q, k, v, torch.ones(5, 5))
    with pytest.raises(TypeError, match="q: expected a floating-point"):
        fn(q.long(), k, v)
    with pytest.raises(ValueError, match="dropout_p"):
        fn(q, k, v, dropout_p=1.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (the bf16 fused kernels)")
@pytest.mark.parametrize("masked", [False, True])
def test_bf16_on_gpu_explicit_equals_fused_and_float32(masked):
    # On a GPU, bf16 inputs run the flash / memory-efficient kernels; both paths must agree with float32 to bf16
    # precision, and a fully masked row must still come out as zeros.
    q, k, v = (t.cuda() for t in _qkv(B=2, H=4, Tq=64, Tk=64, d=32, dv=32))
    mask = None
    if masked:
        mask = padding_mask(torch.tensor([[1] * 64, [1] * 40 + [0] * 24]).cuda()) & causal_mask(64, device="cuda")
        mask[1, :, 5] = False  # a fully masked row
    expected, _ = scaled_dot_product_attention(q, k, v, mask)
    explicit, _ = scaled_dot_product_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), mask)
    fused = sdpa_attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), mask)
    assert explicit.dtype == fused.dtype == torch.bfloat16
    torch.testing.assert_close(fused.float(), expected, atol=3e-2, rtol=3e-2)
    torch.testing.assert_close(explicit.float(), expected, atol=3e-2, rtol=3e-2)
    assert torch.isfinite(fused).all()
    if masked:
        assert fused[1, :, 5].eq(0).all()


def test_is_causal_equals_the_explicit_causal_mask_and_refuses_a_mask_or_a_cache():
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 3, 6, 4, generator=g) for _ in range(3))
    expected, _ = scaled_dot_product_attention(q, k, v, causal_mask(6))
    torch.testing.assert_close(sdpa_attention(q, k, v, is_causal=True), expected, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="is_causal: expected mask=None and as many queries as keys"):
        sdpa_attention(q, k, v, causal_mask(6), is_causal=True)
    with pytest.raises(ValueError, match="got no mask and 2 queries, 6 keys"):
        sdpa_attention(q[:, :, :2], k, v, is_causal=True)
