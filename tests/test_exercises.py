"""The exercise registry and check_exercise: the grading rules every notebook test cell relies on."""

import pickle
import random

import pytest
import torch
from torch import nn

from tlcourse.checks import CheckFailure
from tlcourse.exercises import EXERCISES, Case, check_exercise
from tlcourse.exercises.registry import ReferenceUsed
from tlcourse.tokenization import bpe


def own_count_pairs(words):
    counts = {}
    for symbols, count in words.items():
        for pair in zip(symbols, symbols[1:]):
            counts[pair] = counts.get(pair, 0) + count
    return counts


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_cases_are_plain_data_and_references_import(name):
    # Specs must work out of process: the reference is an import path, cases pickle.
    exercise = EXERCISES[name]
    assert exercise.reference_function().__name__ == name
    for which in ("public", "hidden"):
        cases = exercise.cases(which)
        assert cases, f"{name} has no {which} cases"
        pickle.loads(pickle.dumps(cases))


def plain(value):
    """Cases as comparable data: tensors as (dtype, nested lists), modules as their type and state."""
    if isinstance(value, Case):
        return plain((value.args, value.kwargs, value.note, value.init))
    if isinstance(value, torch.Tensor):
        return str(value.dtype), value.tolist()
    if isinstance(value, torch.Generator):
        return value.get_state().tolist()
    if isinstance(value, random.Random):
        return value.getstate()
    if isinstance(value, nn.Module):
        return type(value).__name__, plain(dict(value.state_dict()))
    if isinstance(value, torch.optim.Optimizer):
        return type(value).__name__, plain(value.state_dict())
    if isinstance(value, dict):
        return {key: plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_hidden_cases_are_random_but_reproducible(name):
    exercise = EXERCISES[name]
    assert plain(exercise.cases("hidden", seed=1)) == plain(exercise.cases("hidden", seed=1))
    assert plain(exercise.cases("hidden", seed=1)) != plain(exercise.cases("hidden", seed=2))
    assert plain(exercise.cases("hidden")) != plain(exercise.cases("public"))


def test_an_own_implementation_passes_public_and_hidden(capsys):
    assert check_exercise("count_pairs", own_count_pairs) is None  # nbgrader would read a number as partial credit
    check_exercise("count_pairs", own_count_pairs, cases="hidden")
    assert capsys.readouterr().out == "count_pairs: 4 public cases passed\ncount_pairs: 10 hidden cases passed\n"


def test_a_wrong_answer_names_the_case_the_input_and_the_difference():
    def ignores_counts(words):
        return {pair: 1 for symbols in words for pair in zip(symbols, symbols[1:])}

    with pytest.raises(CheckFailure) as info:
        check_exercise("count_pairs", ignores_counts)
    message = str(info.value)
    assert "count_pairs, public case 1 of 4 (counts are weighted by word frequency)" in message
    assert "called with: {('l', 'o', 'w'): 5" in message
    assert "result[('l', 'o')]: expected 7, got 1" in message


def test_an_exception_in_student_code_is_reported_as_a_failure():
    def broken(words):
        return 1 / 0

    with pytest.raises(CheckFailure, match="your function raised ZeroDivisionError"):
        check_exercise("count_pairs", broken)


def test_unimplemented_exercises_raise_not_implemented():
    def stub(words):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError, match=r"^count_pairs is not implemented yet: write it in its cell above, "
                                                  r"run that cell, then run this one again$"):
        check_exercise("count_pairs", stub)


def test_handing_the_work_to_the_reference_earns_nothing():
    def delegates(words):
        return bpe.count_pairs(words)

    with pytest.raises(ReferenceUsed, match="called tlcourse's reference count_pairs"):
        check_exercise("count_pairs", delegates)
    with pytest.raises(ReferenceUsed, match="is tlcourse's reference"):
        check_exercise("count_pairs", bpe.count_pairs)


def test_other_references_may_be_used():
    # train_bpe may call the reference count_pairs: only the exercise under test must be the student's own.
    def train_with_reference_helpers(word_counts, vocab_size, *, min_frequency=0, special_tokens=(),
                                     initial_alphabet=()):
        vocab = {}
        for token in special_tokens:
            vocab.setdefault(token, len(vocab))
        for char in sorted(set("".join(word_counts)) | set(initial_alphabet)):
            vocab.setdefault(char, len(vocab))
        words = {tuple(w): c for w, c in word_counts.items()}
        merges = []
        while len(vocab) < vocab_size:
            pairs = bpe.count_pairs(words)
            if not pairs:
                break
            best = min(pairs, key=lambda p: (-pairs[p], vocab[p[0]], vocab[p[1]]))
            if pairs[best] < min_frequency:
                break
            merges.append(best)
            vocab.setdefault(best[0] + best[1], len(vocab))
            words = {bpe.merge_pair(s, best): c for s, c in words.items()}
        return vocab, merges

    check_exercise("train_bpe", train_with_reference_helpers, cases="hidden")


def test_the_signature_must_be_kept():
    def renamed(word_counts):
        return own_count_pairs(word_counts)

    with pytest.raises(CheckFailure, match=r"expected parameters \(words\), got \(word_counts\)"):
        check_exercise("count_pairs", renamed)


def test_a_student_that_mutates_its_input_cannot_change_the_expected_value():
    def destructive(words):
        result = own_count_pairs(words)
        words.clear()
        return result

    check_exercise("count_pairs", destructive)


def test_unknown_exercise_and_case_set_are_clear_errors():
    with pytest.raises(KeyError, match="no exercise named 'count_pair'"):
        check_exercise("count_pair", own_count_pairs)
    with pytest.raises(ValueError, match="which: expected 'public' or 'hidden', got 'secret'"):
        check_exercise("count_pairs", own_count_pairs, cases="secret")


# --- module exercises (the student writes an nn.Module) --------------------------------------------------------

class OwnLMHead(nn.Module):
    def __init__(self, embedding, bias=False):
        super().__init__()
        self.weight = embedding.weight
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings)) if bias else None

    def forward(self, h):
        logits = h @ self.weight.T
        return logits if self.bias is None else logits + self.bias


def test_an_own_module_passes_public_and_hidden(capsys):
    check_exercise("LMHead", OwnLMHead)
    check_exercise("LMHead", OwnLMHead, cases="hidden")
    assert capsys.readouterr().out == "LMHead: 3 public cases passed\nLMHead: 6 hidden cases passed\n"


def test_a_forgotten_bias_shows_because_the_reference_weights_are_perturbed():
    class NoBias(OwnLMHead):
        def forward(self, h):
            return h @ self.weight.T

    with pytest.raises(CheckFailure, match=r"LMHead, public case 2 of 3 \(BERT's head"):
        check_exercise("LMHead", NoBias)


def test_module_parameter_names_must_match_the_reference():
    class Renamed(nn.Module):
        def __init__(self, embedding, bias=False):
            super().__init__()
            self.unembedding = nn.Linear(embedding.embedding_dim, embedding.num_embeddings, bias=bias)

        def forward(self, h):
            return self.unembedding(h)

    with pytest.raises(CheckFailure, match=r"expected parameters named \['weight'\], got \['unembedding.weight'\]"):
        check_exercise("LMHead", Renamed)


def test_a_module_that_hands_its_forward_to_the_reference_earns_nothing():
    from tlcourse.attention import LMHead

    class Delegates(OwnLMHead):
        def forward(self, h):
            return LMHead.forward(self, h)

    class Subclass(LMHead):
        pass

    with pytest.raises(ReferenceUsed, match="called tlcourse's reference LMHead"):
        check_exercise("LMHead", Delegates)
    with pytest.raises(ReferenceUsed, match="is tlcourse's reference"):
        check_exercise("LMHead", Subclass)


def test_a_module_whose_constructor_raises_is_a_clear_failure():
    class Broken(OwnLMHead):
        def __init__(self, embedding, bias=False):
            raise RuntimeError("oops")

    with pytest.raises(CheckFailure, match="constructing your module raised RuntimeError: oops"):
        check_exercise("LMHead", Broken)


def test_ungraded_parameters_may_be_left_out():
    def sinusoidal_positions(n_positions, d_model):  # the reference also takes device=
        t = torch.arange(n_positions, dtype=torch.float32)[:, None]
        angles = t / 10000.0 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
        return torch.stack([angles.sin(), angles.cos()], dim=-1).reshape(n_positions, d_model)

    check_exercise("sinusoidal_positions", sinusoidal_positions, cases="hidden")
