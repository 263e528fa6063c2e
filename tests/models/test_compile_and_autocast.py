"""The models under ``torch.compile`` (one graph each, outputs equal to eager) and under bf16 autocast on the CPU.

The compile tests use the ``aot_eager`` backend: it traces the whole model with dynamo and AOTAutograd, which is
where compile-hostile code (data-dependent branches, graph breaks) fails, in about a second per model;
``inductor`` would add code generation and about 30 s on a 2-core CPU, without testing more of our code.
"""

from __future__ import annotations

import pytest
import torch

from tlcourse.models import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

IDS = torch.randint(0, 97, (2, 8), generator=torch.Generator().manual_seed(0))
MASK = torch.tensor([[1] * 8, [1] * 6 + [0] * 2])
BERT = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16)
GPT2 = dict(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0)


def _bert() -> BertModel:
    torch.manual_seed(0)
    return BertModel(BertConfig(**BERT)).eval()


def _gpt2() -> GPT2LMHeadModel:
    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(**GPT2)).eval()


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_compiled_bert_is_one_graph_and_equals_eager():
    model = _bert()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    with torch.no_grad():
        got = compiled(IDS, MASK, output_attentions=True, output_hidden_states=True)
        expected = model(IDS, MASK, output_attentions=True, output_hidden_states=True)
    torch.testing.assert_close(got.last_hidden_state, expected.last_hidden_state, atol=1e-6, rtol=0)
    torch.testing.assert_close(got.pooler_output, expected.pooler_output, atol=1e-6, rtol=0)
    for a, b in zip(got.attentions + got.hidden_states, expected.attentions + expected.hidden_states):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_compiled_gpt2_is_one_graph_and_equals_eager_with_loss_gradients_and_cache():
    model = _gpt2()
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    got = compiled(IDS, attention_mask=MASK, labels=IDS.masked_fill(MASK == 0, -100))
    expected = model(IDS, attention_mask=MASK, labels=IDS.masked_fill(MASK == 0, -100))
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-6, rtol=0)
    torch.testing.assert_close(got.loss, expected.loss, atol=1e-6, rtol=0)
    compiled_grads = torch.autograd.grad(got.loss, list(model.parameters()))
    for a, b in zip(compiled_grads, torch.autograd.grad(expected.loss, list(model.parameters()))):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    with torch.no_grad():
        prefix = compiled(IDS[:, :7], use_cache=True)
        step = compiled(IDS[:, 7:], past_key_values=prefix.past_key_values)
        torch.testing.assert_close(step.logits[:, 0], model(IDS).logits[:, 7], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["bert", "gpt2"])
def test_bf16_autocast_on_cpu_gives_finite_outputs_close_to_float32(name):
    model = _bert() if name == "bert" else _gpt2()

    def run() -> torch.Tensor:
        out = model(IDS, MASK)
        return out.last_hidden_state if name == "bert" else out.logits

    with torch.no_grad():
        reference = run()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = run()
    valid = MASK.bool()
    assert torch.isfinite(low).all()  # bf16 for GPT-2's logits; BERT ends in a LayerNorm, which autocast keeps fp32
    error = (low.float() - reference)[valid].abs().max().item()
    scale = reference[valid].abs().max().item()
    assert 0 < error < 0.05 * scale, (error, scale)  # bf16 did run (error > 0), within a few bf16 roundings
