"""Differential tests: tlcourse.models BERT equals transformers' BertModel / BertFor* (v5) through checkpoints.

A random tiny transformers model (non-zero biases and perturbed LayerNorms, so a missing term would show) is saved
and loaded by ours, and ours saved is loaded by transformers; hidden states, pooler, logits, losses and gradients
must agree within atol 1e-5 on a right-padded batch with token types. The real all-MiniLM-L6-v2 checkpoint
(a BertModel-only file without the ``bert.`` prefix) is compared on tokenized sentences.
"""

from __future__ import annotations

import json

import pytest
import torch

from tlcourse.models import (
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
    read_checkpoint,
)

transformers = pytest.importorskip("transformers")

ATOL = 1e-5
TINY = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
IDS = torch.tensor([[2, 15, 37, 8, 91, 3], [2, 44, 3, 60, 3, 0], [2, 7, 3, 0, 0, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
TYPES = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]])
VALID = MASK.bool()
OURS = {"BertModel": BertModel, "BertForMaskedLM": BertForMaskedLM,
        "BertForSequenceClassification": BertForSequenceClassification,
        "BertForTokenClassification": BertForTokenClassification}


def _labels(arch: str, num_labels: int) -> torch.Tensor | None:
    g = torch.Generator().manual_seed(3)
    if arch == "BertForSequenceClassification":
        return torch.randn(3, generator=g) if num_labels == 1 else torch.randint(num_labels, (3,), generator=g)
    if arch == "BertModel":
        return None
    high = 100 if arch == "BertForMaskedLM" else num_labels
    labels = torch.randint(high, IDS.shape, generator=g)
    labels[~VALID] = -100
    labels[:, 0] = -100  # some valid positions ignored too
    return labels


def _hf_model(arch: str, impl: str, num_labels: int = 3):
    config = transformers.BertConfig(**TINY, num_labels=num_labels, attn_implementation=impl)
    torch.manual_seed(0)
    model = getattr(transformers, arch)(config).eval()
    with torch.no_grad():  # perturb biases and LayerNorms, so a missing term would show
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def _run(model, arch: str, labels, ours: bool):
    kwargs = {} if arch == "BertModel" else {"labels": labels}
    out = model(IDS, attention_mask=MASK, token_type_ids=TYPES, **kwargs)
    if ours:
        return out.last_hidden_state if arch == "BertModel" else None, out.pooler_output, out.logits, out.loss
    return (out.last_hidden_state if arch == "BertModel" else None, getattr(out, "pooler_output", None),
            getattr(out, "logits", None), getattr(out, "loss", None))


def _assert_same(arch: str, ours: tuple, theirs: tuple) -> None:
    hidden, pooled, logits, loss = ours
    h_hidden, h_pooled, h_logits, h_loss = theirs
    if hidden is not None:
        torch.testing.assert_close(hidden[VALID], h_hidden[VALID], atol=ATOL, rtol=0)
    if pooled is not None and h_pooled is not None:
        torch.testing.assert_close(pooled, h_pooled, atol=ATOL, rtol=0)
    if logits is not None:
        per_token = arch in ("BertForMaskedLM", "BertForTokenClassification")
        torch.testing.assert_close(logits[VALID] if per_token else logits, h_logits[VALID] if per_token else h_logits,
                                   atol=ATOL, rtol=0)
    assert (loss is None) == (h_loss is None)
    if loss is not None:
        torch.testing.assert_close(loss, h_loss, atol=ATOL, rtol=0)


CASES = [("BertModel", 3), ("BertForMaskedLM", 3), ("BertForSequenceClassification", 3),
         ("BertForSequenceClassification", 1), ("BertForTokenClassification", 5)]


@pytest.mark.parametrize("impl", ["eager", "sdpa"])
@pytest.mark.parametrize(("arch", "num_labels"), CASES)
def test_transformers_checkpoint_loads_into_ours_with_equal_outputs_and_gradients(tmp_path, arch, num_labels, impl):
    hf = _hf_model(arch, impl, num_labels)
    hf.save_pretrained(tmp_path)
    ours = OURS[arch].from_pretrained(tmp_path)
    labels = _labels(arch, num_labels)
    got, expected = _run(ours, arch, labels, ours=True), _run(hf, arch, labels, ours=False)
    _assert_same(arch, got, expected)
    if arch == "BertModel":
        return
    got[3].backward()
    expected[3].backward()
    pairs = [("bert.layers.1.attn.query.weight", "bert.encoder.layer.1.attention.self.query.weight"),
             ("bert.layers.0.fc_in.bias", "bert.encoder.layer.0.intermediate.dense.bias"),
             ("bert.embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight"),
             ("bert.embeddings.norm.weight", "bert.embeddings.LayerNorm.weight")]
    ours_params, hf_params = dict(ours.named_parameters()), dict(hf.named_parameters())
    for our_name, hf_name in pairs:
        torch.testing.assert_close(ours_params[our_name].grad, hf_params[hf_name].grad, atol=ATOL, rtol=0)


@pytest.mark.parametrize(("arch", "num_labels"), CASES)
def test_our_checkpoint_loads_into_transformers_with_equal_outputs(tmp_path, arch, num_labels):
    torch.manual_seed(1)
    ours = OURS[arch](BertConfig(**TINY, num_labels=num_labels)).eval()
    ours.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == [arch]
    hf = getattr(transformers, arch).from_pretrained(tmp_path).eval()
    assert hf.config.num_labels == num_labels
    labels = _labels(arch, num_labels)
    with torch.no_grad():
        _assert_same(arch, _run(ours, arch, labels, ours=True), _run(hf, arch, labels, ours=False))


def test_base_model_loads_from_a_masked_lm_checkpoint_and_back(tmp_path):
    hf = _hf_model("BertForMaskedLM", "sdpa")
    hf.save_pretrained(tmp_path / "hf")
    with pytest.warns(UserWarning, match="pooler"):  # an MLM checkpoint has no pooler
        ours = BertModel.from_pretrained(tmp_path / "hf")
    ours.save_pretrained(tmp_path / "ours")
    assert not any(k.startswith("bert.") for k in read_checkpoint(tmp_path / "ours")[1])
    with pytest.warns(UserWarning, match="cls.predictions.bias"):  # head newly initialised, encoder from the file
        mlm = BertForMaskedLM.from_pretrained(tmp_path / "ours")
    with torch.no_grad():
        torch.testing.assert_close(mlm.bert(IDS, MASK, TYPES).last_hidden_state,
                                   hf.bert(IDS, MASK, TYPES).last_hidden_state, atol=ATOL, rtol=0)


def _assert_attentions_and_hidden_states_equal(got, expected, valid, num_layers: int, atol: float = ATOL) -> None:
    assert len(got.attentions) == num_layers and len(got.hidden_states) == num_layers + 1
    for ours, theirs in zip(got.attentions, expected.attentions):  # (B, heads, T, T); padded keys get 0
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours.transpose(1, 2)[valid], theirs.transpose(1, 2)[valid], atol=atol, rtol=0)
    for ours, theirs in zip(got.hidden_states, expected.hidden_states):  # (B, T, H): embeddings, then each layer
        torch.testing.assert_close(ours[valid], theirs[valid], atol=atol, rtol=0)


@pytest.mark.parametrize("arch", ["BertModel", "BertForMaskedLM", "BertForTokenClassification"])
def test_attentions_and_hidden_states_equal_transformers(tmp_path, arch):
    hf = _hf_model(arch, "eager")
    hf.save_pretrained(tmp_path)
    ours = OURS[arch].from_pretrained(tmp_path)  # use_sdpa=True: asking for the weights takes the explicit path
    flags = {"output_attentions": True, "output_hidden_states": True}
    with torch.no_grad():
        got, expected = ours(IDS, MASK, TYPES, **flags), hf(IDS, attention_mask=MASK, token_type_ids=TYPES, **flags)
        plain = ours(IDS, MASK, TYPES)
    _assert_attentions_and_hidden_states_equal(got, expected, VALID, TINY["num_hidden_layers"])
    assert plain.attentions is None and plain.hidden_states is None
    torch.testing.assert_close(got.hidden_states[-1], plain.last_hidden_state, atol=1e-6, rtol=0)
    assert torch.equal(got.attentions[0][1, :, :, 5], torch.zeros(4, 6))  # the padded key gets weight 0


def test_mlm_decoder_is_tied_and_saved_once(tmp_path):
    model = BertForMaskedLM(BertConfig(**TINY))
    assert model.decoder.weight is model.bert.embeddings.word_embeddings.weight
    model.save_pretrained(tmp_path)
    _, state = read_checkpoint(tmp_path)
    assert "bert.embeddings.word_embeddings.weight" in state and "cls.predictions.decoder.weight" not in state
    loaded = BertForMaskedLM.from_pretrained(tmp_path)
    assert loaded.decoder.weight is loaded.bert.embeddings.word_embeddings.weight
    torch.testing.assert_close(loaded.decoder.weight, model.decoder.weight, atol=0, rtol=0)


def test_init_follows_transformers():
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=1000, hidden_size=64, num_hidden_layers=1, num_attention_heads=4,
                                       intermediate_size=128))
    weight = model.bert.embeddings.word_embeddings.weight
    assert abs(weight[1:].std().item() - 0.02) < 1e-3 and weight[0].abs().sum() == 0
    assert model.decoder.bias.abs().sum() == 0 and model.bert.layers[0].fc_in.bias.abs().sum() == 0
    assert torch.equal(model.transform_norm.weight, torch.ones(64))


def test_missing_files_and_bad_arguments_give_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        BertModel.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(TINY))
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        BertModel.from_pretrained(tmp_path)
    model = BertModel(BertConfig(**TINY))
    with pytest.raises(ValueError, match="attention_mask"):
        model(IDS, attention_mask=MASK[:, :3])
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="hidden_size"):
        BertConfig(hidden_size=30, num_attention_heads=4)


def test_pytorch_model_bin_is_read(tmp_path):
    hf = _hf_model("BertModel", "sdpa")
    hf.config.to_json_file(tmp_path / "config.json")
    torch.save(hf.state_dict(), tmp_path / "pytorch_model.bin")
    ours = BertModel.from_pretrained(tmp_path)
    with torch.no_grad():
        _assert_same("BertModel", _run(ours, "BertModel", None, True), _run(hf, "BertModel", None, False))


def test_real_minilm_matches_transformers():
    from tlcourse.pretrained import minilm_dir

    try:
        path = minilm_dir()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    tokenizers = pytest.importorskip("tokenizers")
    tokenizer = tokenizers.Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    sentences = ["Transfer learning works.", "The cat sat on the mat, and then it slept for a long time.", "Hi"]
    encoded = [tokenizer.encode(s).ids for s in sentences]
    T = max(map(len, encoded))
    ids = torch.tensor([e + [0] * (T - len(e)) for e in encoded])  # right-padded with [PAD] = 0
    mask = torch.tensor([[1] * len(e) + [0] * (T - len(e)) for e in encoded])
    ours = BertModel.from_pretrained(path)
    hf = transformers.BertModel.from_pretrained(path, attn_implementation="eager").eval()
    flags = {"output_attentions": True, "output_hidden_states": True}
    with torch.no_grad():
        got, expected = ours(ids, mask, **flags), hf(input_ids=ids, attention_mask=mask, **flags)
    valid = mask.bool()
    torch.testing.assert_close(got.last_hidden_state[valid], expected.last_hidden_state[valid], atol=1e-5, rtol=0)
    torch.testing.assert_close(got.pooler_output, expected.pooler_output, atol=1e-5, rtol=0)
    # What the attention heatmap shows. Real sizes: 1e-4 (docs/reference-semantics.md, "How the comparisons are
    # made"); observed 3e-6 on the weights, 1.2e-5 on hidden states.
    _assert_attentions_and_hidden_states_equal(got, expected, valid, 6, atol=1e-4)
    assert got.attentions[0].shape == (3, 12, T, T)
