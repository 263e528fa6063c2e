"""Differential test: MultiHeadAttention equals transformers' BertSelfAttention (+ the output dense) on a padded batch.

The mask is built the way ``BertModel`` builds it in transformers 5: ``masking_utils.create_bidirectional_mask``,
which gives an additive ``0 / finfo.min`` float mask for eager attention and a bool mask for sdpa.
"""

from __future__ import annotations

import pytest
import torch

from tlcourse.attention import MultiHeadAttention, padding_mask

transformers = pytest.importorskip("transformers")
from transformers import BertConfig  # noqa: E402
from transformers.masking_utils import create_bidirectional_mask  # noqa: E402
from transformers.models.bert.modeling_bert import BertSelfAttention, BertSelfOutput  # noqa: E402

HIDDEN, HEADS = 32, 4


def _bert(impl: str) -> tuple[BertConfig, BertSelfAttention, BertSelfOutput]:
    config = BertConfig(
        hidden_size=HIDDEN, num_attention_heads=HEADS, attention_probs_dropout_prob=0.0, hidden_dropout_prob=0.0,
        attn_implementation=impl,
    )
    torch.manual_seed(0)
    attention, output = BertSelfAttention(config).eval(), BertSelfOutput(config).eval()
    with torch.no_grad():  # non-zero biases, so a missing bias would show
        for linear in (attention.query, attention.key, attention.value, output.dense):
            linear.bias.normal_(0.0, 0.1)
    return config, attention, output


def _ours(attention: BertSelfAttention, output: BertSelfOutput, use_sdpa: bool) -> MultiHeadAttention:
    mha = MultiHeadAttention(HIDDEN, HEADS, use_sdpa=use_sdpa).eval()
    with torch.no_grad():
        for name in ("query", "key", "value"):
            getattr(mha, name).load_state_dict(getattr(attention, name).state_dict())
        mha.out.load_state_dict(output.dense.state_dict())
    return mha


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize("use_sdpa", [False, True])
def test_equals_bert_self_attention_on_a_padded_batch(impl, use_sdpa):
    config, attention, output = _bert(impl)
    x = torch.randn(3, 6, HIDDEN, generator=torch.Generator().manual_seed(1))
    attention_mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]])
    hf_mask = create_bidirectional_mask(config=config, inputs_embeds=x, attention_mask=attention_mask)
    with torch.no_grad():
        context, _ = attention(x, attention_mask=hf_mask)  # (B, T, H) before the output dense
        expected = output.dense(context)
        ours = _ours(attention, output, use_sdpa)
        contexts = []
        ours.out.register_forward_pre_hook(lambda module, args: contexts.append(args[0]))
        got = ours(x, padding_mask(attention_mask))
    torch.testing.assert_close(contexts[0], context, atol=1e-5, rtol=0)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_padding_mask_equals_berts_sdpa_mask():
    config, _, _ = _bert("sdpa")
    attention_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    hf_mask = create_bidirectional_mask(config=config, inputs_embeds=torch.zeros(2, 4, HIDDEN),
                                        attention_mask=attention_mask)  # bool (B, 1, Tq, Tk)
    assert torch.equal(padding_mask(attention_mask).expand_as(hf_mask), hf_mask)
