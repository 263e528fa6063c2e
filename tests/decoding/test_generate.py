"""Differential tests: tlcourse.decoding.generate equals transformers' generate on the same GPT-2 weights
(docs/reference-semantics.md, "generate").

The model is a tiny random GPT-2 whose token embeddings are scaled up, so next-token distributions are peaky
but not one-hot, and whose EOS is the token that ends about half of the beam hypotheses, so beams really finish
at different lengths. Every generation argument is passed explicitly to both (``top_k=0`` turns transformers' default of 50
off) and an attention mask is always given.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from tlcourse.decoding import IncrementalDecoder, generate, top_k_filter, top_p_filter
from tlcourse.models import GPT2LMHeadModel

transformers = pytest.importorskip("transformers")

VOCAB, PAD = 24, 0
PROMPTS = torch.tensor([[5, 9, 3, 17], [2, 8, 8, 11], [7, 1, 20, 4]])
LEFT_PADDED = torch.tensor([[0, 0, 9, 3], [2, 8, 8, 11], [0, 7, 20, 4]])
LEFT_MASK = (LEFT_PADDED != 0).long()


def _peaky_hf_model():
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                     resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                     bos_token_id=VOCAB - 1, eos_token_id=VOCAB - 1)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        model.transformer.wte.weight.mul_(6.0)  # tied with lm_head: the top token gets 0.3 to 0.8
    return model


def _eos_that_ends_half_the_beams(model: GPT2LMHeadModel) -> int:
    """The token that, as EOS, ends closest to half of the 4-beam hypotheses of the prompts within 10 tokens."""
    def ended_share(eos: int) -> float:
        out = generate(model, PROMPTS, max_new_tokens=10, num_beams=4, num_return_sequences=4, eos_token_id=eos,
                       pad_token_id=PAD)
        return sum(eos in row[PROMPTS.shape[1]:].tolist() for row in out) / len(out)

    return min(range(1, VOCAB), key=lambda eos: abs(ended_share(eos) - 0.5))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    hf = _peaky_hf_model()
    path = tmp_path_factory.mktemp("tiny-gpt2")
    hf.save_pretrained(path)
    ours = GPT2LMHeadModel.from_pretrained(path).eval()
    return hf, ours, _eos_that_ends_half_the_beams(ours)


def _hf_generate(hf, prompts, mask, **kwargs):
    out = hf.generate(prompts, attention_mask=mask, return_dict_in_generate=True, output_scores=True, **kwargs)
    return out.sequences, getattr(out, "sequences_scores", None)


def _trim_after_eos(row: torch.Tensor, prompt_length: int, eos: int) -> list[int]:
    tokens = row.tolist()
    generated = tokens[prompt_length:]
    return tokens[:prompt_length] + (generated[:generated.index(eos) + 1] if eos in generated else generated)


def test_the_distributions_are_peaky_and_the_eos_really_ends_sequences(models):
    hf, ours, eos = models
    probs = ours(PROMPTS).logits[:, -1].softmax(-1)
    assert (probs.max(-1).values > 0.2).all() and (probs.max(-1).values < 0.95).all()
    out = generate(ours, PROMPTS, max_new_tokens=10, num_beams=4, num_return_sequences=4, eos_token_id=eos,
                   pad_token_id=PAD)
    ended = [eos in row[4:].tolist() for row in out]
    assert any(ended) and not all(ended)


@pytest.mark.parametrize("prompts, mask", [(PROMPTS, torch.ones_like(PROMPTS)), (LEFT_PADDED, LEFT_MASK)],
                         ids=["aligned", "left-padded"])
def test_greedy_equals_transformers(models, prompts, mask):
    hf, ours, eos = models
    expected, _ = _hf_generate(hf, prompts, mask, max_new_tokens=12, do_sample=False, num_beams=1,
                               eos_token_id=eos, pad_token_id=PAD)
    got = generate(ours, prompts, attention_mask=mask, max_new_tokens=12, eos_token_id=eos, pad_token_id=PAD)
    assert torch.equal(got, expected)


SAMPLING_GRID = [(seed, t, k, p) for seed, (t, k, p) in enumerate(itertools.product(
    (0.7, 1.0, 1.5), (0, 3, 10), (1.0, 0.9, 0.5)))]


@pytest.mark.parametrize("seed, temperature, top_k, top_p", SAMPLING_GRID)
def test_sampling_draws_the_same_ids_as_transformers_for_the_same_seed(models, seed, temperature, top_k, top_p):
    hf, ours, eos = models
    options = dict(max_new_tokens=10, do_sample=True, temperature=temperature, top_k=top_k, top_p=top_p,
                   eos_token_id=eos, pad_token_id=PAD)
    torch.manual_seed(seed)
    expected, _ = _hf_generate(hf, LEFT_PADDED, LEFT_MASK, num_beams=1, **options)
    torch.manual_seed(seed)
    got = generate(ours, LEFT_PADDED, attention_mask=LEFT_MASK, **options)
    assert torch.equal(got, expected)


def test_sampling_several_sequences_per_prompt_equals_transformers(models):
    hf, ours, eos = models
    options = dict(max_new_tokens=8, do_sample=True, top_k=0, top_p=0.95, num_return_sequences=3,
                   eos_token_id=eos, pad_token_id=PAD)
    torch.manual_seed(7)
    expected, _ = _hf_generate(hf, PROMPTS, torch.ones_like(PROMPTS), **options)
    torch.manual_seed(7)
    assert torch.equal(generate(ours, PROMPTS, **options), expected)


BEAM_GRID = list(itertools.product((2, 3, 4, 5), (-1.0, 0.0, 1.0, 2.0), (True, False, "never")))


@pytest.mark.parametrize("num_beams, length_penalty, early_stopping", BEAM_GRID)
def test_beam_search_sequences_and_scores_equal_transformers(models, num_beams, length_penalty, early_stopping):
    hf, ours, eos = models
    options = dict(max_new_tokens=6 + num_beams, num_beams=num_beams, length_penalty=length_penalty,
                   early_stopping=early_stopping, num_return_sequences=num_beams, eos_token_id=eos,
                   pad_token_id=PAD)
    expected, expected_scores = _hf_generate(hf, LEFT_PADDED, LEFT_MASK, do_sample=False, **options)
    got = generate(ours, LEFT_PADDED, attention_mask=LEFT_MASK, output_scores=True, **options)
    width = LEFT_PADDED.shape[1]
    assert [_trim_after_eos(row, width, eos) for row in got.sequences] == [
        _trim_after_eos(row, width, eos) for row in expected]
    torch.testing.assert_close(got.sequences_scores, expected_scores, atol=1e-3, rtol=0)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
@pytest.mark.parametrize("min_tokens_to_keep", [1, 3])
def test_top_k_filter_equals_transformers_warper(k, min_tokens_to_keep):
    scores = torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.0, float("-inf")], [3.0, -1.0, 0.5, 0.5, 0.5, 2.0]])
    warper = transformers.TopKLogitsWarper(top_k=k, min_tokens_to_keep=min_tokens_to_keep)
    assert torch.equal(top_k_filter(scores, k, min_tokens_to_keep), warper(None, scores.clone()))


@pytest.mark.parametrize("p", [0.3, 0.5, 0.79, 0.8, 0.81, 0.95, 1.0])
@pytest.mark.parametrize("min_tokens_to_keep", [1, 2])
def test_top_p_filter_equals_transformers_warper(p, min_tokens_to_keep):
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05, 0.0], [0.25, 0.25, 0.25, 0.25, 0.0]])
    scores = probs.log()  # the zero is -inf
    warper = transformers.TopPLogitsWarper(top_p=p, min_tokens_to_keep=min_tokens_to_keep)
    assert torch.equal(top_p_filter(scores, p, min_tokens_to_keep), warper(None, scores.clone()))


def test_top_p_keeps_the_token_that_crosses_p():
    kept = top_p_filter(torch.tensor([0.5, 0.3, 0.15, 0.05]).log(), 0.81).isfinite()
    assert kept.tolist() == [True, True, True, False]


def test_cached_logits_equal_recomputing_the_whole_prefix(models):
    _, ours, _ = models
    cached = IncrementalDecoder(ours, LEFT_PADDED, LEFT_MASK)
    full = IncrementalDecoder(ours, LEFT_PADDED, LEFT_MASK, use_cache=False)
    for token in (3, 14, 9, 21):
        torch.testing.assert_close(cached.next_logits(), full.next_logits(), atol=1e-5, rtol=0)
        step = torch.full((3,), token)
        cached.append(step)
        full.append(step)


@pytest.mark.parametrize("kwargs, message", [
    (dict(top_p=0.0, do_sample=True), "top_p: expected a probability in (0, 1], got 0.0"),
    (dict(top_p=1.5, do_sample=True), "top_p: expected a probability in (0, 1], got 1.5"),
    (dict(num_beams=4, num_beam_groups=3, diversity_penalty=1.0), "num_beams: expected a multiple of num_beam_groups = 3, got 4"),
    (dict(num_beams=4, num_beam_groups=2, diversity_penalty=1.0, do_sample=True), "do_sample: expected False with num_beam_groups > 1"),
    (dict(num_beams=4, num_beam_groups=2), "diversity_penalty: expected a number > 0 with num_beam_groups > 1, got 0.0"),
    (dict(temperature=0.0, do_sample=True), "temperature: expected a number > 0, got 0.0"),
    (dict(num_beams=2, num_return_sequences=3), "num_return_sequences: expected at most num_beams = 2, got 3"),
    (dict(num_beams=2, early_stopping="sometimes"), "early_stopping: expected True, False or 'never', got 'sometimes'"),
    (dict(num_return_sequences=2), "num_return_sequences: greedy search returns one sequence per prompt"),
    (dict(max_new_tokens=0), "max_new_tokens: expected a positive int, got 0"),
])
def test_bad_arguments_raise_clear_errors(models, kwargs, message):
    _, ours, _ = models
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("]", r"\]")):
        generate(ours, PROMPTS, **{"max_new_tokens": 3, **kwargs})
