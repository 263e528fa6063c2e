"""TransformerBlock equals transformers' BertLayer (post-LN) and GPT2Block (pre-LN); LMHead ties to the embedding.

Masks are built the way the v5 models build them: ``masking_utils.create_bidirectional_mask`` (BertModel) and
``masking_utils.create_causal_mask`` (GPT2Model), which give an additive ``0 / finfo.min`` float mask for eager
attention and a bool mask (or ``None``, the kernel's own causal flag) for sdpa.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tlcourse.attention import BlockConfig, LMHead, TransformerBlock, causal_mask, padding_mask

transformers = pytest.importorskip("transformers")
from transformers import BertConfig, GPT2Config  # noqa: E402
from transformers.masking_utils import create_bidirectional_mask, create_causal_mask  # noqa: E402
from transformers.models.bert.modeling_bert import BertLayer  # noqa: E402
from transformers.models.gpt2.modeling_gpt2 import GPT2Block  # noqa: E402

HIDDEN, HEADS, INNER = 32, 4, 64


def _perturb(module: nn.Module) -> None:
    """Move every LayerNorm off identity and every bias off zero, so a swapped or missing one would show."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.LayerNorm):
                sub.weight.normal_(1.0, 0.2)
                sub.bias.normal_(0.0, 0.2)
            elif getattr(sub, "bias", None) is not None:  # nn.Linear and GPT-2's Conv1D
                sub.bias.normal_(0.0, 0.1)


def _copy(linear: nn.Linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    with torch.no_grad():
        linear.weight.copy_(weight)
        linear.bias.copy_(bias)


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_post_ln_block_equals_bert_layer_on_a_padded_batch(impl):
    config = BertConfig(
        hidden_size=HIDDEN, num_attention_heads=HEADS, intermediate_size=INNER, attention_probs_dropout_prob=0.0,
        hidden_dropout_prob=0.0, attn_implementation=impl,
    )
    torch.manual_seed(0)
    layer = BertLayer(config).eval()
    _perturb(layer)
    block = TransformerBlock(BlockConfig.bert(HIDDEN, HEADS, INNER)).eval()
    self_attn, self_out = layer.attention.self, layer.attention.output
    for name in ("query", "key", "value"):
        getattr(block.attn, name).load_state_dict(getattr(self_attn, name).state_dict())
    block.attn.out.load_state_dict(self_out.dense.state_dict())
    block.ln_1.load_state_dict(self_out.LayerNorm.state_dict())
    block.fc_in.load_state_dict(layer.intermediate.dense.state_dict())
    block.fc_out.load_state_dict(layer.output.dense.state_dict())
    block.ln_2.load_state_dict(layer.output.LayerNorm.state_dict())

    x = torch.randn(3, 6, HIDDEN, generator=torch.Generator().manual_seed(1))
    attention_mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]])
    hf_mask = create_bidirectional_mask(config=config, inputs_embeds=x, attention_mask=attention_mask)
    with torch.no_grad():
        expected = layer(x, attention_mask=hf_mask)
        got = block(x, padding_mask(attention_mask))
    assert got.shape == (3, 6, HIDDEN)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_pre_ln_block_equals_gpt2_block_under_a_causal_mask(impl):
    config = GPT2Config(
        n_embd=HIDDEN, n_head=HEADS, n_inner=INNER, n_layer=1, resid_pdrop=0.0, attn_pdrop=0.0, embd_pdrop=0.0,
        attn_implementation=impl,
    )
    torch.manual_seed(0)
    hf_block = GPT2Block(config, layer_idx=0).eval()
    _perturb(hf_block)
    block = TransformerBlock(BlockConfig.gpt2(HIDDEN, HEADS, INNER)).eval()
    # Conv1D weights are [in, out]: nn.Linear.weight = Conv1D.weight.T; c_attn's output splits q | k | v.
    qkv_w, qkv_b = hf_block.attn.c_attn.weight.T.split(HIDDEN, dim=0), hf_block.attn.c_attn.bias.split(HIDDEN)
    for i, name in enumerate(("query", "key", "value")):
        _copy(getattr(block.attn, name), qkv_w[i], qkv_b[i])
    _copy(block.attn.out, hf_block.attn.c_proj.weight.T, hf_block.attn.c_proj.bias)
    _copy(block.fc_in, hf_block.mlp.c_fc.weight.T, hf_block.mlp.c_fc.bias)
    _copy(block.fc_out, hf_block.mlp.c_proj.weight.T, hf_block.mlp.c_proj.bias)
    block.ln_1.load_state_dict(hf_block.ln_1.state_dict())
    block.ln_2.load_state_dict(hf_block.ln_2.state_dict())

    x = torch.randn(2, 7, HIDDEN, generator=torch.Generator().manual_seed(1))
    hf_mask = create_causal_mask(config=config, inputs_embeds=x, attention_mask=None, past_key_values=None)
    with torch.no_grad():
        expected = hf_block(x, attention_mask=hf_mask)
        got = block(x, causal_mask(7))
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    with torch.no_grad():  # and the mask matters: without it the outputs differ
        assert not torch.allclose(block(x), expected, atol=1e-3)


def test_lm_head_is_tied_to_the_embedding():
    torch.manual_seed(0)
    emb = nn.Embedding(11, 8)
    head = LMHead(emb, bias=True)
    assert head.weight is emb.weight
    assert sum(p.numel() for p in head.parameters()) == 11 * 8 + 11
    before = emb.weight.detach().clone()
    optimizer = torch.optim.SGD(head.parameters(), lr=0.1)
    head(torch.randn(2, 3, 8)).square().sum().backward()  # a gradient step on the head alone
    optimizer.step()
    assert not torch.equal(emb.weight.detach(), before)
    assert torch.equal(emb.weight, head.weight)


def test_lm_head_logits_equal_h_times_embedding_transposed_plus_bias():
    torch.manual_seed(0)
    emb = nn.Embedding(11, 8)
    h = torch.randn(2, 3, 8)
    assert torch.allclose(LMHead(emb)(h), h @ emb.weight.T, atol=1e-6)
    head = LMHead(emb, bias=True)
    assert head.bias is not None and torch.equal(head.bias, torch.zeros(11))
    with torch.no_grad():
        head.bias.normal_()
    logits = head(h)
    assert logits.shape == (2, 3, 11)
    assert torch.allclose(logits, h @ emb.weight.T + head.bias, atol=1e-6)


def test_lm_head_rejects_bad_inputs():
    with pytest.raises(ValueError, match="embedding"):
        LMHead(nn.Linear(4, 4))
    with pytest.raises(ValueError, match="h: expected a tensor with last dimension 4"):
        LMHead(nn.Embedding(5, 4))(torch.randn(2, 3, 6))


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"d_model": 30, "n_heads": 4, "d_ff": 64}, "d_model"),
        ({"d_model": 32, "n_heads": 0, "d_ff": 64}, "n_heads"),
        ({"d_model": 32, "n_heads": 4, "d_ff": 0}, "d_ff"),
        ({"d_model": 32, "n_heads": 4, "d_ff": 64, "activation": "relu"}, "activation"),
        ({"d_model": 32, "n_heads": 4, "d_ff": 64, "dropout": 1.0}, "dropout"),
        ({"d_model": 32, "n_heads": 4, "d_ff": 64, "attn_dropout": -0.1}, "attn_dropout"),
        ({"d_model": 32, "n_heads": 4, "d_ff": 64, "layer_norm_eps": 0.0}, "layer_norm_eps"),
    ],
)
def test_bad_config_raises_value_error_naming_the_field(kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}: expected"):
        BlockConfig(**kwargs)


def test_presets_follow_the_reference_models():
    bert, gpt2 = BlockConfig.bert(32, 4, 64), BlockConfig.gpt2(32, 4)
    assert (bert.pre_ln, bert.activation, bert.layer_norm_eps) == (False, "gelu", 1e-12)
    assert (gpt2.pre_ln, gpt2.activation, gpt2.layer_norm_eps, gpt2.d_ff) == (True, "gelu_new", 1e-5, 128)
    assert TransformerBlock(bert).ln_1.eps == 1e-12
    assert TransformerBlock(BlockConfig(32, 4, 64, dropout=0.1)).attn.dropout == 0.1  # one rate for both
    separate = TransformerBlock(BlockConfig(32, 4, 64, dropout=0.1, attn_dropout=0.3))
    assert (separate.attn.dropout, separate.drop.p) == (0.3, 0.1)
    with pytest.raises(ValueError, match="config"):
        TransformerBlock({"d_model": 32})


@pytest.mark.parametrize("layout", [BlockConfig.gpt2, BlockConfig.bert])
def test_block_kv_cache_steps_equal_the_full_pass(layout):
    torch.manual_seed(0)
    block = TransformerBlock(layout(d_model=HIDDEN, n_heads=HEADS, d_ff=INNER)).eval()
    _perturb(block)
    x = torch.randn(2, 6, HIDDEN, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full, weights = block(x, causal_mask(6), return_weights=True)
        y, past = block(x[:, :4], causal_mask(4), use_cache=True)
        steps = [y]
        for t in (4, 5):
            y, w, past = block(x[:, t : t + 1], causal_mask(1, t + 1), past_kv=past, use_cache=True,
                               return_weights=True)
            steps.append(y)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=0)
    torch.testing.assert_close(w, weights[:, :, 5:], atol=1e-6, rtol=0)  # the last step's weights, (B, H, 1, 6)
    assert [t.shape for t in past] == [(2, HEADS, 6, HIDDEN // HEADS)] * 2
