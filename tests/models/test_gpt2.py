"""Differential tests: tlcourse.models GPT-2 equals transformers' GPT2LMHeadModel / GPT2Model (v5)
(docs/reference-semantics.md, "GPT-2").

A random tiny transformers model (``n_inner`` != ``4 * n_embd`` != ``n_embd``, so a Conv1D transposition would
show; non-zero biases and perturbed LayerNorms, so a missing term would show) goes through checkpoints both ways.
Logits, losses, every gradient, padded batches (right padding with a mask; left padding with position ids) and
KV-cached decoding must agree within atol 1e-5; invariants (no future leakage, cache = full pass, explicit =
fused attention, weight tying, scaled init) hold without transformers.
"""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch

from tlcourse.models import GPT2Config, GPT2LMHeadModel, GPT2Model, causal_lm_loss, read_checkpoint

transformers = pytest.importorskip("transformers")
from transformers import DynamicCache  # noqa: E402

ATOL = 1e-5
TINY = dict(vocab_size=97, n_positions=32, n_embd=32, n_layer=2, n_head=4, n_inner=128, resid_pdrop=0.0,
            embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)
IDS = torch.randint(0, 97, (3, 9), generator=torch.Generator().manual_seed(0))
RIGHT = torch.tensor([[1] * 9, [1] * 7 + [0] * 2, [1] * 4 + [0] * 5])  # right padding
LEFT = RIGHT.flip(-1)  # left padding, as for batched generation
LEFT_POSITIONS = (LEFT.cumsum(-1) - 1).clamp(min=0)


def _perturb(model: torch.nn.Module) -> torch.nn.Module:
    """Move LayerNorms off identity and biases off zero, so that a forgotten term would show."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def _hf_model(impl: str = "eager", cls: str = "GPT2LMHeadModel"):
    torch.manual_seed(0)
    return _perturb(getattr(transformers, cls)(transformers.GPT2Config(**TINY, attn_implementation=impl)).eval())


def _ours(**overrides) -> GPT2LMHeadModel:
    torch.manual_seed(1)
    return _perturb(GPT2LMHeadModel(GPT2Config(**{**TINY, **overrides})).eval())


@pytest.fixture
def pair(tmp_path):
    """A transformers model and ours loaded from its checkpoint."""
    hf = _hf_model()
    hf.save_pretrained(tmp_path)
    return hf, GPT2LMHeadModel.from_pretrained(tmp_path)


def _grads(model) -> dict[str, torch.Tensor]:
    return {name: p.grad for name, p in model.named_parameters()}


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize("use_sdpa", [True, False])
def test_transformers_checkpoint_loads_into_ours_with_equal_logits_losses_and_gradients(tmp_path, impl, use_sdpa):
    hf = _hf_model(impl)
    hf.save_pretrained(tmp_path)
    ours = GPT2LMHeadModel.from_pretrained(tmp_path, use_sdpa=use_sdpa)
    labels = IDS.clone()
    labels[:, :3] = -100  # some targets ignored
    for target in (IDS, labels):
        got, expected = ours(IDS, labels=target), hf(IDS, labels=target)
        torch.testing.assert_close(got.logits, expected.logits, atol=ATOL, rtol=0)
        torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=0)
    got.loss.backward()
    expected.loss.backward()
    # Our gradients in transformers' layout (q|k|v fused, Conv1D transposed): every parameter, once each.
    ours_in_hf_layout, theirs = ours.to_hf_state(_grads(ours)), _grads(hf)
    assert sorted(ours_in_hf_layout) == sorted(theirs)
    for name, grad in theirs.items():
        torch.testing.assert_close(ours_in_hf_layout[name], grad, atol=ATOL, rtol=0, msg=name)


def test_our_checkpoint_loads_into_transformers_with_equal_logits_and_tied_head(tmp_path):
    ours = _ours()
    ours.save_pretrained(tmp_path)
    config, state = read_checkpoint(tmp_path)
    assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
    assert "use_sdpa" not in config and config["n_inner"] == 128
    assert "lm_head.weight" not in state and state["transformer.wte.weight"].shape == (97, 32)  # tied: saved once
    assert state["transformer.h.0.attn.c_attn.weight"].shape == (32, 96)  # Conv1D: (in, out), q | k | v
    assert state["transformer.h.1.mlp.c_fc.weight"].shape == (32, 128)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    assert hf.lm_head.weight.data_ptr() == hf.transformer.wte.weight.data_ptr()
    with torch.no_grad():
        got, expected = ours(IDS, labels=IDS), hf(IDS, labels=IDS)
    torch.testing.assert_close(got.logits, expected.logits, atol=ATOL, rtol=0)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=0)


def test_save_load_round_trip_is_exact(tmp_path):
    ours = _ours()
    ours.save_pretrained(tmp_path)
    loaded = GPT2LMHeadModel.from_pretrained(tmp_path)
    assert loaded.lm_head.weight is loaded.transformer.wte.weight
    for (name, p), q in zip(ours.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(p, q), name


def test_old_pytorch_model_bin_with_attention_buffers_loads(tmp_path):
    """OpenAI-converted checkpoints: pytorch_model.bin, no prefix, with the old attn.bias / masked_bias buffers."""
    hf = _hf_model(cls="GPT2Model")
    hf.config.to_json_file(tmp_path / "config.json")
    state = dict(hf.state_dict())
    for i in range(TINY["n_layer"]):
        state[f"h.{i}.attn.bias"] = torch.ones(1, 1, 32, 32, dtype=torch.bool).tril()
        state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    torch.save(state, tmp_path / "pytorch_model.bin")
    ours = GPT2Model.from_pretrained(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(ours(IDS).last_hidden_state, hf(IDS).last_hidden_state, atol=ATOL, rtol=0)
    with warnings.catch_warnings():  # nothing newly initialised: the LM head is the loaded embedding
        warnings.simplefilter("error")
        lm = GPT2LMHeadModel.from_pretrained(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(lm(IDS).logits, hf(IDS).last_hidden_state @ hf.wte.weight.T, atol=ATOL, rtol=0)


def test_base_model_and_lm_model_checkpoints_convert_both_ways(tmp_path):
    hf = _hf_model()
    hf.save_pretrained(tmp_path / "hf")
    base = GPT2Model.from_pretrained(tmp_path / "hf")  # strips the transformer. prefix
    base.save_pretrained(tmp_path / "base")
    assert not any(k.startswith("transformer.") for k in read_checkpoint(tmp_path / "base")[1])
    lm = GPT2LMHeadModel.from_pretrained(tmp_path / "base")  # adds it back; the head is the loaded wte
    hf_base = transformers.GPT2Model.from_pretrained(tmp_path / "base").eval()
    with torch.no_grad():
        torch.testing.assert_close(lm(IDS).logits, hf(IDS).logits, atol=ATOL, rtol=0)
        torch.testing.assert_close(base(IDS).last_hidden_state, hf_base(IDS).last_hidden_state, atol=ATOL, rtol=0)


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_right_padding_with_attention_mask_equals_transformers(pair, impl):
    hf, ours = pair
    hf.set_attn_implementation(impl)
    labels = IDS.masked_fill(RIGHT == 0, -100)
    with torch.no_grad():
        got, expected = ours(IDS, attention_mask=RIGHT, labels=labels), hf(IDS, attention_mask=RIGHT, labels=labels)
    valid = RIGHT.bool()
    torch.testing.assert_close(got.logits[valid], expected.logits[valid], atol=ATOL, rtol=0)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=0)
    with torch.no_grad():  # and each row equals that sequence run alone, unpadded
        alone = ours(IDS[2:, :4]).logits
    torch.testing.assert_close(got.logits[2, :4], alone[0], atol=ATOL, rtol=0)


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
def test_left_padding_with_position_ids_equals_transformers_and_the_unpadded_run(pair, impl):
    hf, ours = pair
    hf.set_attn_implementation(impl)
    ids = IDS.roll(5, dims=-1)  # row 2's 4 real tokens now sit at the end
    with torch.no_grad():
        got = ours(ids, attention_mask=LEFT, position_ids=LEFT_POSITIONS).logits
        expected = hf(ids, attention_mask=LEFT, position_ids=LEFT_POSITIONS).logits
        alone = ours(ids[2:, 5:]).logits
        wrong_positions = ours(ids, attention_mask=LEFT).logits  # positions from arange, not from the mask
    valid = LEFT.bool()
    torch.testing.assert_close(got[valid], expected[valid], atol=ATOL, rtol=0)
    torch.testing.assert_close(got[2, 5:], alone[0], atol=ATOL, rtol=0)
    assert not torch.allclose(wrong_positions[2, 5:], alone[0], atol=1e-3)


def _decode(model, ids, chunks, **kwargs):
    """Feed ``ids`` in chunks of the given sizes through the cache; return the concatenated logits and cache."""
    logits, past, start = [], None, 0
    for size in chunks:
        out = model(ids[:, start : start + size], past_key_values=past, use_cache=True, **kwargs)
        logits.append(out.logits)
        past, start = out.past_key_values, start + size
    return torch.cat(logits, dim=1), past


@pytest.mark.parametrize("use_sdpa", [True, False])
@pytest.mark.parametrize("chunks", [[1] * 9, [5, 1, 1, 1, 1], [4, 3, 2]])
def test_kv_cache_decoding_equals_the_full_pass_and_transformers(pair, use_sdpa, chunks):
    hf, ours = pair
    for block in ours.transformer.h:
        block.attn.use_sdpa = use_sdpa
    with torch.no_grad():
        full = ours(IDS).logits
        stepped, past = _decode(ours, IDS, chunks)
        hf_logits, hf_past, start = [], DynamicCache(config=hf.config), 0
        for size in chunks:
            hf_logits.append(hf(IDS[:, start : start + size], past_key_values=hf_past, use_cache=True).logits)
            start += size
    torch.testing.assert_close(stepped, full, atol=ATOL, rtol=0)
    torch.testing.assert_close(stepped, torch.cat(hf_logits, dim=1), atol=ATOL, rtol=0)
    assert len(past) == TINY["n_layer"]
    for (k, v), layer in zip(past, hf_past.layers):
        assert k.shape == v.shape == (3, 4, 9, 8)
        torch.testing.assert_close(k, layer.keys, atol=ATOL, rtol=0)
        torch.testing.assert_close(v, layer.values, atol=ATOL, rtol=0)


def test_kv_cache_with_left_padding_equals_transformers(pair):
    """Batched generation: a left-padded prompt, then steps with the mask grown by one and positions carried on."""
    hf, ours = pair
    ids = IDS.roll(5, dims=-1)
    prompt, mask, positions = ids[:, :6], LEFT[:, :6], LEFT_POSITIONS[:, :6]
    with torch.no_grad():
        out = ours(prompt, attention_mask=mask, position_ids=positions, use_cache=True)
        hf_out = hf(prompt, attention_mask=mask, position_ids=positions, use_cache=True)
        for t in range(6, 9):
            mask, positions = LEFT[:, : t + 1], LEFT_POSITIONS[:, t : t + 1]
            out = ours(ids[:, t : t + 1], mask, positions, past_key_values=out.past_key_values, use_cache=True)
            hf_out = hf(ids[:, t : t + 1], past_key_values=hf_out.past_key_values, attention_mask=mask,
                        position_ids=positions, use_cache=True)
            torch.testing.assert_close(out.logits, hf_out.logits, atol=ATOL, rtol=0)
        full = ours(ids, attention_mask=LEFT, position_ids=LEFT_POSITIONS).logits
    torch.testing.assert_close(out.logits[:, 0], full[:, -1], atol=ATOL, rtol=0)


def test_future_tokens_do_not_change_earlier_logits():
    ours = _ours()
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        base = ours(IDS).logits
        for t in range(8):
            changed = IDS.clone()
            changed[:, t + 1 :] = torch.randint(0, 97, (3, 8 - t), generator=g)
            logits = ours(changed).logits
            torch.testing.assert_close(logits[:, : t + 1], base[:, : t + 1], atol=1e-6, rtol=0)
            assert not torch.allclose(logits[:, t + 1 :], base[:, t + 1 :], atol=1e-4)


def test_explicit_attention_path_equals_sdpa_path():
    fused, explicit = _ours(), _ours(use_sdpa=False)
    explicit.load_state_dict(fused.state_dict())
    with torch.no_grad():
        for kwargs in ({}, {"attention_mask": RIGHT}, {"attention_mask": LEFT, "position_ids": LEFT_POSITIONS}):
            valid = kwargs.get("attention_mask", torch.ones_like(IDS)).bool()
            torch.testing.assert_close(explicit(IDS, **kwargs).logits[valid], fused(IDS, **kwargs).logits[valid],
                                       atol=1e-6, rtol=0)


def test_loss_is_shifted_cross_entropy_ignoring_minus_100():
    ours = _ours()
    labels = IDS.clone()
    labels[0, 4:] = -100
    with torch.no_grad():
        out = ours(IDS, labels=labels)
    logits, targets = out.logits[:, :-1], labels[:, 1:]
    keep = targets != -100
    expected = -logits.log_softmax(-1)[keep].gather(-1, targets[keep][:, None]).mean()
    torch.testing.assert_close(out.loss, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(causal_lm_loss(out.logits, labels), out.loss, atol=0, rtol=0)


def test_weight_tying_one_parameter_one_gradient():
    ours = _ours()
    assert ours.lm_head.weight is ours.transformer.wte.weight
    assert "lm_head.weight" not in dict(ours.named_parameters())
    ours(IDS, labels=IDS).loss.backward()
    assert ours.transformer.wte.weight.grad is not None  # from the head and from the embedding lookup


def test_init_follows_transformers_scaled_residual_projections():
    torch.manual_seed(0)
    L = 6
    model = GPT2LMHeadModel(GPT2Config(vocab_size=500, n_positions=64, n_embd=128, n_layer=L, n_head=4))
    scaled = torch.cat([w.flatten() for b in model.transformer.h for w in (b.attn.out.weight, b.fc_out.weight)])
    plain = torch.cat([w.flatten() for b in model.transformer.h for w in (b.attn.query.weight, b.fc_in.weight)])
    expected = 0.02 / math.sqrt(2 * L)  # 0.00408; ~400k samples: the std's relative error is ~0.1%
    assert abs(scaled.std().item() - expected) < 0.03 * expected
    assert abs(plain.std().item() - 0.02) < 0.03 * 0.02
    assert abs(model.transformer.wte.weight.std().item() - 0.02) < 0.03 * 0.02
    assert abs(model.transformer.wpe.weight.std().item() - 0.02) < 0.03 * 0.02
    block = model.transformer.h[0]
    assert block.fc_in.bias.abs().sum() == 0 and torch.equal(block.ln_1.weight, torch.ones(128))


def test_bad_inputs_and_configs_give_clear_errors(tmp_path):
    ours = _ours()
    with pytest.raises(ValueError, match=r"input_ids: expected an integer tensor \(B, T\)"):
        ours(IDS.float())
    with pytest.raises(ValueError, match="input_ids: expected an integer tensor"):
        ours(IDS[0])
    with pytest.raises(ValueError, match=r"input_ids: expected T_past \+ T <= n_positions=32, got 0 \+ 33"):
        ours(torch.zeros(1, 33, dtype=torch.long))
    past = ours(IDS, use_cache=True).past_key_values
    with pytest.raises(ValueError, match=r"input_ids: expected T_past \+ T <= n_positions=32, got 9 \+ 24"):
        ours(torch.zeros(3, 24, dtype=torch.long), past_key_values=past)
    with pytest.raises(ValueError, match=r"attention_mask: expected an integer tensor of shape \(3, 10\)"):
        ours(IDS[:, :1], attention_mask=RIGHT, past_key_values=past)
    with pytest.raises(ValueError, match=r"position_ids: expected an integer tensor of shape \(3, 9\)"):
        ours(IDS, position_ids=LEFT_POSITIONS[:, :4])
    with pytest.raises(ValueError, match=r"labels: expected an integer tensor of shape \(3, 9\)"):
        ours(IDS, labels=IDS[:, :4])
    with pytest.raises(ValueError, match="past_key_values: expected 2 pairs"):
        ours(IDS[:, :1], past_key_values=past[:1])
    with pytest.raises(ValueError, match="past_kv: expected two tensors of shape"):
        ours(IDS[:1, :1], past_key_values=past)  # a cache for 3 sequences, 1 given
    with pytest.raises(ValueError, match="n_embd: expected a multiple of n_head=4, got 30"):
        GPT2Config(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="n_inner: expected a positive int"):
        GPT2Config(n_inner=0)
    with pytest.raises(ValueError, match="activation_function: expected one of"):
        GPT2Config(activation_function="relu")
    with pytest.raises(ValueError, match="tie_word_embeddings: expected True"):
        GPT2Config(tie_word_embeddings=False)
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx: expected False"):
        GPT2Config.from_dict({"scale_attn_by_inverse_layer_idx": True})
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        GPT2LMHeadModel.from_pretrained(tmp_path)
