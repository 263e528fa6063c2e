"""Differential tests: tlcourse's prompt and prefix tuning equal peft's
(docs/reference-semantics.md, "Prompt tuning" and "Prefix tuning").

transformers' BertForSequenceClassification and GPT2LMHeadModel (tiny, perturbed, saved with ``save_pretrained``)
are wrapped by ``peft.get_peft_model``; ours load the same checkpoint and get peft's prompt / prefix tensors.
Compared: the logits and losses, what each side passes to the base model (embeddings, extended mask, token types,
labels, positions), the prefix layout, the TEXT and SAMPLE_VOCAB inits, the trainable set, and a training step
on both sides. Expected values come from peft and transformers (or hand-built inputs), never from our output.
"""

from __future__ import annotations

import warnings

import peft
import pytest
import torch
import transformers
from tokenizers import Tokenizer
from torch import nn

from tlcourse.finetuning import SequenceClassifier
from tlcourse.models import BertForSequenceClassification, BertModel, GPT2LMHeadModel
from tlcourse.peft.prefix_tuning import PrefixEncoder, PrefixTuningConfig, PrefixTuningModel, prefix_key_values
from tlcourse.peft.prompt_tuning import (
    PromptEmbedding,
    PromptTuningConfig,
    PromptTuningModel,
    init_prompt,
    prompt_inputs,
    text_init_ids,
    tokenize_with_special_tokens,
)

ATOL = 1e-5
P = 5
BERT = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            max_position_embeddings=32, num_labels=3, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
GPT2 = dict(vocab_size=100, n_positions=32, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
IDS = torch.tensor([[2, 15, 37, 8, 91, 3], [2, 44, 3, 60, 3, 0], [2, 7, 3, 0, 0, 0]])
MASK = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])
TYPES = torch.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0]])
CLASSES = torch.tensor([2, 0, 1])
LM_LABELS = IDS.masked_fill(MASK == 0, -100)
WORDS = ["the", "movie", "was", "great", "bad", "plot", "acting", "review", "is", "positive", "negative", "it"]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # transformers' / peft's deprecation notices
        warnings.simplefilter("ignore")
        yield


def _perturbed(model: nn.Module, seed: int) -> nn.Module:
    """Biases and LayerNorms moved off their init, and heads with large weights, so a missing term shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or "LayerNorm" in name or "ln_" in name:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
            if name == "classifier.weight":
                p.copy_(torch.randn(p.shape, generator=g))
            if name == "transformer.wte.weight":  # GPT-2's (tied) LM head: logits of order 1, not 0.1
                p.mul_(10.0)
    return model


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Folders of a tiny transformers BERT classifier (with a WordPiece tokenizer) and GPT-2 LM."""
    root = tmp_path_factory.mktemp("prompt_prefix")
    torch.manual_seed(0)
    bert = _perturbed(transformers.BertForSequenceClassification(transformers.BertConfig(**BERT)), 1)
    bert.save_pretrained(root / "bert")
    vocab = root / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    transformers.BertTokenizerFast(vocab_file=str(vocab)).save_pretrained(root / "bert")
    torch.manual_seed(0)
    gpt2 = _perturbed(transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2)), 2)
    gpt2.save_pretrained(root / "gpt2")
    return root


def _pair(checkpoints, arch: str):
    """transformers' model and ours, from the same checkpoint, in eval mode."""
    if arch == "bert":
        return (transformers.BertForSequenceClassification.from_pretrained(checkpoints / "bert").eval(),
                BertForSequenceClassification.from_pretrained(checkpoints / "bert").eval())
    return (transformers.GPT2LMHeadModel.from_pretrained(checkpoints / "gpt2").eval(),
            GPT2LMHeadModel.from_pretrained(checkpoints / "gpt2").eval())


TASK = {"bert": peft.TaskType.SEQ_CLS, "gpt2": peft.TaskType.CAUSAL_LM}


def _inputs(arch: str) -> dict:
    if arch == "bert":
        return dict(input_ids=IDS, attention_mask=MASK, token_type_ids=TYPES, labels=CLASSES)
    return dict(input_ids=IDS, attention_mask=MASK, labels=LM_LABELS)


def _prompt_pair(checkpoints, arch: str, **peft_options):
    hf, ours = _pair(checkpoints, arch)
    theirs = peft.get_peft_model(hf, peft.PromptTuningConfig(task_type=TASK[arch], num_virtual_tokens=P,
                                                             **peft_options))
    ours = PromptTuningModel(ours, PromptTuningConfig(num_virtual_tokens=P))
    ours.prompt.load_state_dict(theirs.prompt_encoder.default.state_dict())  # embedding.weight, (P, H)
    return theirs, ours


def _prefix_pair(checkpoints, arch: str, projection: bool = False):
    hf, ours = _pair(checkpoints, arch)
    options = dict(prefix_projection=True, encoder_hidden_size=48) if projection else {}
    theirs = peft.get_peft_model(hf, peft.PrefixTuningConfig(task_type=TASK[arch], num_virtual_tokens=P, **options))
    ours = PrefixTuningModel(ours, PrefixTuningConfig(num_virtual_tokens=P, **options))
    ours.prefix.load_state_dict(theirs.prompt_encoder.default.state_dict())  # embedding.weight (+ transform.*)
    return theirs, ours


PAIRS = {"prompt": _prompt_pair, "prefix": _prefix_pair}


def _canonical(names: set[str]) -> set[str]:
    """peft's and our trainable names on one footing: the prompt/prefix encoder's and the classifier's own."""
    out = set()
    for name in names:
        for prefix in ("base_model.", "prompt_encoder.default.", "model.", "prompt.", "prefix."):
            name = name.removeprefix(prefix)
        out.add(name.replace("modules_to_save.default.", ""))
    return out


def _trainable(model: nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if p.requires_grad}


# --- the pure functions ------------------------------------------------------------------------------------------

def test_prompt_inputs_puts_the_prompt_first_and_extends_the_mask():
    g = torch.Generator().manual_seed(0)
    words, prompt = torch.randn(3, 6, 4, generator=g), torch.randn(2, 4, generator=g)
    embeds, mask = prompt_inputs(words, prompt, MASK)
    assert embeds.shape == (3, 8, 4) and mask.shape == (3, 8) and mask.dtype == MASK.dtype
    for b in range(3):
        assert torch.equal(embeds[b, :2], prompt) and torch.equal(embeds[b, 2:], words[b])
    assert torch.equal(mask[:, :2], torch.ones(3, 2, dtype=torch.long)) and torch.equal(mask[:, 2:], MASK)
    _, no_padding = prompt_inputs(words, prompt, None)
    assert torch.equal(no_padding, torch.ones(3, 8, dtype=torch.long))
    half, _ = prompt_inputs(words.half(), prompt, MASK)
    assert half.dtype == torch.float16


def test_text_init_ids_tiles_and_cuts_like_peft():
    ids = [2, 5, 6, 3]
    assert text_init_ids(ids, 4) == ids
    assert text_init_ids(ids, 2) == [2, 5]
    assert text_init_ids(ids, 10) == [2, 5, 6, 3, 2, 5, 6, 3, 2, 5]


def test_prefix_layout_equals_peft_get_prompt(checkpoints):
    for arch in ("bert", "gpt2"):
        theirs, ours = _prefix_pair(checkpoints, arch)
        cache = theirs.get_prompt(batch_size=3)  # DynamicCache: one layer per transformer layer
        L, n_heads = 2, 4
        kv = prefix_key_values(ours.prefix(), L, n_heads, 3)
        assert len(kv) == len(cache.layers) == L
        for layer, (k, v) in zip(cache.layers, kv):
            assert k.shape == (3, n_heads, P, 8)
            assert torch.equal(k, layer.keys) and torch.equal(v, layer.values)


def test_prefix_layout_by_hand():
    """Row p of the prefix holds layer l's key in slice 2l and its value in slice 2l + 1 (H = heads * hs)."""
    L, heads, hs = 3, 2, 4
    prefix = torch.randn(P, L * 2 * heads * hs)
    kv = prefix_key_values(prefix, L, heads, batch_size=2)
    slices = prefix.view(P, 2 * L, heads * hs)
    for layer in range(L):
        for which, part in ((0, 2 * layer), (1, 2 * layer + 1)):
            expected = slices[:, part].view(P, heads, hs).transpose(0, 1)  # (heads, P, hs)
            assert torch.equal(kv[layer][which][1], expected)


# --- equal to peft -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["prompt", "prefix"])
@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_logits_and_loss_equal_peft(checkpoints, method, arch):
    theirs, ours = PAIRS[method](checkpoints, arch)
    with torch.no_grad():
        expected, actual = theirs(**_inputs(arch)), ours(**_inputs(arch))
    T = IDS.shape[1]
    shape = (3, 3) if arch == "bert" else (3, T + P if method == "prompt" else T, 100)
    assert actual.logits.shape == expected.logits.shape == shape
    torch.testing.assert_close(actual.logits, expected.logits, atol=ATOL, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=ATOL, rtol=0)
    assert expected.logits.abs().max() > 0.5  # not a vacuous comparison


def test_prefix_projection_equals_peft(checkpoints):
    theirs, ours = _prefix_pair(checkpoints, "gpt2", projection=True)
    assert ours.prefix.transform[0].out_features == 48
    with torch.no_grad():
        expected, actual = theirs(**_inputs("gpt2")), ours(**_inputs("gpt2"))
    torch.testing.assert_close(actual.logits, expected.logits, atol=ATOL, rtol=0)
    assert _canonical(_trainable(ours)) == _canonical(_trainable(theirs)) == {
        "embedding.weight", "transform.0.weight", "transform.0.bias", "transform.2.weight", "transform.2.bias"}


def test_without_attention_mask_equal_peft(checkpoints):
    for method in ("prompt", "prefix"):
        for arch in ("bert", "gpt2"):
            theirs, ours = PAIRS[method](checkpoints, arch)
            with torch.no_grad():
                expected, actual = theirs(input_ids=IDS[:1]), ours(IDS[:1])
            torch.testing.assert_close(actual.logits, expected.logits, atol=ATOL, rtol=0)


def _capture(module: nn.Module) -> dict:
    """The keyword arguments of ``module``'s next forward call."""
    seen = {}

    def hook(_module, args, kwargs):
        seen.update(kwargs, args=args)

    module.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_prompt_passes_what_peft_passes(checkpoints, arch):
    """Prompt before the words, mask with P ones first, token types with P zeros first, labels with P -100s."""
    theirs, ours = _prompt_pair(checkpoints, arch)
    seen_theirs, seen_ours = _capture(theirs.get_base_model()), _capture(ours.model)
    with torch.no_grad():
        theirs(**_inputs(arch)), ours(**_inputs(arch))
    torch.testing.assert_close(seen_ours["inputs_embeds"], seen_theirs["inputs_embeds"], atol=0, rtol=0)
    assert torch.equal(seen_ours["attention_mask"], seen_theirs["attention_mask"].long())
    assert torch.equal(seen_ours["attention_mask"][:, :P], torch.ones(3, P, dtype=torch.long))
    if arch == "bert":
        assert torch.equal(seen_ours["token_type_ids"], seen_theirs["token_type_ids"])
        assert torch.equal(seen_ours["token_type_ids"][:, :P], torch.zeros(3, P, dtype=torch.long))
    else:
        assert torch.equal(seen_ours["labels"], seen_theirs["labels"])
        assert torch.equal(seen_ours["labels"][:, :P], torch.full((3, P), -100))


@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_prefix_real_tokens_are_numbered_from_p_as_in_transformers(checkpoints, arch):
    theirs, ours = _prefix_pair(checkpoints, arch)
    if arch == "bert":
        tables = (theirs.get_base_model().bert.embeddings.position_embeddings,
                  ours.model.bert.embeddings.position_embeddings)
    else:
        tables = theirs.get_base_model().transformer.wpe, ours.model.transformer.wpe
    positions = {}
    for side, table in zip(("theirs", "ours"), tables):
        def hook(_module, args, _out, side=side):
            positions[side] = args[0]  # the position ids looked up; returning None keeps the output

        table.register_forward_hook(hook)
    with torch.no_grad():
        theirs(input_ids=IDS, attention_mask=MASK), ours(IDS, MASK)
    T = IDS.shape[1]
    assert positions["theirs"].flatten().tolist() == positions["ours"].flatten().tolist() == list(range(P, P + T))


# --- initialisation ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["the movie was great", "it is a great movie and the plot is positive"])
def test_text_init_equals_peft(checkpoints, text):
    """Special tokens included ([CLS] ... [SEP]); a short text repeated, a long one cut to P."""
    hf, ours = _pair(checkpoints, "bert")
    theirs = peft.get_peft_model(hf, peft.PromptTuningConfig(
        task_type=peft.TaskType.SEQ_CLS, num_virtual_tokens=8, prompt_tuning_init=peft.PromptTuningInit.TEXT,
        prompt_tuning_init_text=text, tokenizer_name_or_path=str(checkpoints / "bert")))
    expected = theirs.prompt_encoder.default.embedding.weight
    config = PromptTuningConfig(num_virtual_tokens=8, init="text", init_text=text)
    hf_tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoints / "bert")
    for tokenizer in (Tokenizer.from_file(str(checkpoints / "bert" / "tokenizer.json")), hf_tokenizer):
        ids = tokenize_with_special_tokens(tokenizer, text)
        assert ids[0] == hf_tokenizer.cls_token_id and ids[-1] == hf_tokenizer.sep_token_id
        model = PromptTuningModel(BertForSequenceClassification.from_pretrained(checkpoints / "bert"), config,
                                  tokenizer=tokenizer)
        assert model.prompt().dtype == torch.float32
        torch.testing.assert_close(model.prompt(), expected, atol=0, rtol=0)
    # peft's TEXT init: word_embeddings(tok(text).input_ids), tiled and cut, by hand
    ids = hf_tokenizer(text)["input_ids"]
    by_hand = hf.bert.embeddings.word_embeddings.weight[(ids * 8)[:8]]
    torch.testing.assert_close(expected, by_hand, atol=0, rtol=0)


def test_sample_vocab_init_equals_peft_with_the_same_seed(checkpoints):
    hf, ours = _pair(checkpoints, "gpt2")
    torch.manual_seed(7)
    theirs = peft.get_peft_model(hf, peft.PromptTuningConfig(
        task_type=peft.TaskType.CAUSAL_LM, num_virtual_tokens=P, prompt_tuning_init=peft.PromptTuningInit.SAMPLE_VOCAB))
    torch.manual_seed(7)
    model = PromptTuningModel(ours, PromptTuningConfig(num_virtual_tokens=P, init="sample_vocab"))
    expected = theirs.prompt_encoder.default.embedding.weight
    torch.testing.assert_close(model.prompt(), expected, atol=0, rtol=0)
    rows = {tuple(row.tolist()) for row in hf.transformer.wte.weight}
    assert all(tuple(row.tolist()) in rows for row in expected)  # every row is a word vector


def test_random_init_is_standard_normal():
    torch.manual_seed(0)
    prompt = init_prompt(PromptTuningConfig(num_virtual_tokens=50), nn.Embedding(100, 32))()
    assert prompt.shape == (50, 32)
    assert abs(prompt.mean().item()) < 0.05 and abs(prompt.std().item() - 1.0) < 0.05


# --- training: what moves and what does not ---------------------------------------------------------------------

@pytest.mark.parametrize("method", ["prompt", "prefix"])
@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_trainable_set_equals_peft(checkpoints, method, arch):
    theirs, ours = PAIRS[method](checkpoints, arch)
    expected = {"embedding.weight"} | ({"classifier.weight", "classifier.bias"} if arch == "bert" else set())
    assert _canonical(_trainable(ours)) == _canonical(_trainable(theirs)) == expected
    assert len(_trainable(ours)) == len(expected)


@pytest.mark.parametrize("method", ["prompt", "prefix"])
@pytest.mark.parametrize("arch", ["bert", "gpt2"])
def test_training_steps_equal_peft_and_leave_the_base_untouched(checkpoints, method, arch):
    theirs, ours = PAIRS[method](checkpoints, arch)
    theirs.train(), ours.train()  # dropout is 0: train mode is deterministic
    base = {name: p.detach().clone() for name, p in ours.model.named_parameters()}
    ours_encoder = ours.prompt if method == "prompt" else ours.prefix
    their_encoder = theirs.prompt_encoder.default
    start = ours_encoder.embedding.weight.detach().clone()
    optimizers = [torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1) for m in (theirs, ours)]
    for _ in range(3):
        for model, optimizer in zip((theirs, ours), optimizers):
            optimizer.zero_grad()
            model(**_inputs(arch)).loss.backward()
            optimizer.step()
    assert not torch.equal(ours_encoder.embedding.weight, start)
    torch.testing.assert_close(ours_encoder.embedding.weight, their_encoder.embedding.weight, atol=1e-5, rtol=0)
    if arch == "bert":
        their_head = theirs.base_model.classifier.modules_to_save.default
        torch.testing.assert_close(ours.model.classifier.weight, their_head.weight, atol=1e-5, rtol=0)
    for name, p in ours.model.named_parameters():
        if name.startswith("classifier."):
            assert not torch.equal(p, base[name]), name
        else:
            assert torch.equal(p, base[name]), f"{name} changed"


def test_padding_stays_masked_with_a_prompt_and_a_prefix(checkpoints):
    """Changing a padded token changes nothing: the P ones extend the mask without unmasking padding."""
    other = IDS.clone()
    other[MASK == 0] = 42
    for method in ("prompt", "prefix"):
        _, ours = PAIRS[method](checkpoints, "bert")
        with torch.no_grad():
            a, b = ours(IDS, MASK, TYPES).logits, ours(other, MASK, TYPES).logits
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


# --- the models' new inputs --------------------------------------------------------------------------------------

def test_inputs_embeds_equal_input_ids(checkpoints):
    hf, bert = _pair(checkpoints, "bert")
    with torch.no_grad():
        words = bert.bert.embeddings.word_embeddings(IDS)
        torch.testing.assert_close(bert(inputs_embeds=words, attention_mask=MASK, token_type_ids=TYPES).logits,
                                   hf(IDS, attention_mask=MASK, token_type_ids=TYPES).logits, atol=ATOL, rtol=0)
        hf, gpt2 = _pair(checkpoints, "gpt2")
        words = gpt2.transformer.wte(IDS)
        torch.testing.assert_close(gpt2(inputs_embeds=words).logits, hf(inputs_embeds=words).logits,
                                   atol=ATOL, rtol=0)


def test_bert_past_key_values_equal_transformers_cache(checkpoints):
    """Our BertModel with per-layer keys and values equals transformers' with a DynamicCache holding them."""
    hf, _ = _pair(checkpoints, "bert")
    ours = BertModel.from_pretrained(checkpoints / "bert").eval()
    g = torch.Generator().manual_seed(0)
    past = tuple((torch.randn(3, 4, P, 8, generator=g), torch.randn(3, 4, P, 8, generator=g)) for _ in range(2))
    mask = torch.cat([torch.ones(3, P, dtype=torch.long), MASK], 1)
    with torch.no_grad():
        expected = hf.bert(IDS, attention_mask=mask, token_type_ids=TYPES,
                           past_key_values=transformers.DynamicCache(past)).last_hidden_state
        actual = ours(IDS, mask, TYPES, past_key_values=past).last_hidden_state
    torch.testing.assert_close(actual[MASK.bool()], expected[MASK.bool()], atol=ATOL, rtol=0)


# --- clear errors ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, message", [
    (dict(num_virtual_tokens=0), "num_virtual_tokens: expected a positive int, got 0"),
    (dict(init="TEXT", init_text="x"), "init: expected one of"),
    (dict(init="text"), "init_text: expected a non-empty str with init='text', got None"),
    (dict(init="random", init_text="x"), "init_text: expected None with init='random'"),
])
def test_prompt_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PromptTuningConfig(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_virtual_tokens=-1), "num_virtual_tokens: expected a positive int, got -1"),
    (dict(prefix_projection=1), "prefix_projection: expected a bool, got 1"),
    (dict(encoder_hidden_size=16), "encoder_hidden_size: expected None without prefix_projection"),
    (dict(prefix_projection=True, encoder_hidden_size=0), "encoder_hidden_size: expected a positive int, got 0"),
])
def test_prefix_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PrefixTuningConfig(**kwargs)


def test_wrapper_errors(checkpoints):
    _, bert = _pair(checkpoints, "bert")
    _, gpt2 = _pair(checkpoints, "gpt2")
    with pytest.raises(TypeError, match="model: expected a tlcourse BertForSequenceClassification, "
                                        "SequenceClassifier or GPT2LMHeadModel, got BertModel"):
        PromptTuningModel(bert.bert, PromptTuningConfig())
    with pytest.raises(TypeError, match="model: expected .* got Linear"):
        PrefixTuningModel(nn.Linear(2, 2), PrefixTuningConfig())
    with pytest.raises(TypeError, match="config: expected a PromptTuningConfig, got PrefixTuningConfig"):
        PromptTuningModel(bert, PrefixTuningConfig())
    with pytest.raises(ValueError, match="tokenizer: expected the model's tokenizer with init='text', got None"):
        PromptTuningModel(bert, PromptTuningConfig(init="text", init_text="the movie"))
    with pytest.raises(TypeError, match="tokenizer: expected a tokenizers.Tokenizer or a transformers tokenizer, "
                                        "got int"):
        PromptTuningModel(bert, PromptTuningConfig(init="text", init_text="the movie"), tokenizer=3)
    prompt_lm = PromptTuningModel(gpt2, PromptTuningConfig(num_virtual_tokens=2))
    with pytest.raises(ValueError, match="token_type_ids: expected None, GPT-2 has no token types"):
        prompt_lm(IDS, token_type_ids=TYPES)
    with pytest.raises(ValueError, match=r"labels: expected an integer tensor of shape \(3, 6\), got"):
        prompt_lm(IDS, labels=IDS[:, :3])
    with pytest.raises(ValueError, match=r"attention_mask: expected an integer tensor of shape \(3, 6\)"):
        prompt_lm(IDS, attention_mask=MASK[:, :2])
    prefix_bert = PrefixTuningModel(bert, PrefixTuningConfig(num_virtual_tokens=2))
    with pytest.raises(ValueError, match=r"attention_mask: expected an integer tensor of shape \(3, 6\)"):
        prefix_bert(IDS, MASK.float())
    with pytest.raises(ValueError, match=r"input_ids: expected an integer tensor \(B, T\)"):
        prefix_bert(IDS.float())
    with pytest.raises(ValueError, match=r"input_ids: expected T_past \+ T <= max_position_embeddings=32"):
        PrefixTuningModel(BertForSequenceClassification.from_pretrained(checkpoints / "bert"),
                          PrefixTuningConfig(num_virtual_tokens=30))(IDS)


def test_function_errors():
    words = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match=r"input_embeds: expected a float tensor \(B, T, H\), got torch.int64"):
        prompt_inputs(torch.zeros(2, 3, 4, dtype=torch.long), torch.zeros(2, 4), None)
    with pytest.raises(ValueError, match=r"prompt: expected a tensor \(P, 4\), got torch.float32 tensor of shape "
                                         r"\(2, 5\)"):
        prompt_inputs(words, torch.zeros(2, 5), None)
    with pytest.raises(ValueError, match=r"attention_mask: expected an integer tensor of shape \(2, 3\)"):
        prompt_inputs(words, torch.zeros(2, 4), torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="token_ids: expected a non-empty list of ints, got"):
        text_init_ids([], 4)
    with pytest.raises(ValueError, match=r"token_ids: expected 2 ids in \[0, 10\)"):
        PromptEmbedding(2, 4).init_from_words(nn.Embedding(10, 4), [3, 10])
    with pytest.raises(ValueError, match="hidden_size: expected a positive int, got 0"):
        PromptEmbedding(2, 0)
    with pytest.raises(ValueError, match=r"prefix: expected a float tensor \(P, L \* 2 \* H\) with L=2"):
        prefix_key_values(torch.zeros(3, 30), num_layers=2, n_heads=4, batch_size=1)
    with pytest.raises(ValueError, match="batch_size: expected a positive int, got 0"):
        prefix_key_values(torch.zeros(3, 32), num_layers=2, n_heads=4, batch_size=0)
    with pytest.raises(TypeError, match="config: expected a PrefixTuningConfig, got dict"):
        PrefixEncoder({}, num_layers=2, hidden_size=8)


def test_model_input_errors(checkpoints):
    _, bert = _pair(checkpoints, "bert")
    _, gpt2 = _pair(checkpoints, "gpt2")
    with pytest.raises(ValueError, match="input_ids, inputs_embeds: expected exactly one of them, got both"):
        bert(IDS, inputs_embeds=torch.zeros(3, 6, 32))
    with pytest.raises(ValueError, match="input_ids, inputs_embeds: expected exactly one of them, got neither"):
        gpt2()
    with pytest.raises(ValueError, match=r"inputs_embeds: expected a float tensor \(B, T, 32\) with T >= 1, got "
                                         r"torch.float32 tensor of shape \(3, 6, 8\)"):
        gpt2(inputs_embeds=torch.zeros(3, 6, 8))
    with pytest.raises(ValueError, match="past_key_values: expected 2 pairs"):
        bert(IDS, past_key_values=((torch.zeros(3, 4, 2, 8),) * 2,))
    with pytest.raises(ValueError, match=r"attention_mask: expected an integer tensor of shape \(3, 8\)"):
        bert(IDS, MASK, past_key_values=((torch.zeros(3, 4, 2, 8),) * 2,) * 2)


# --- the course's own classifier (tlcourse.finetuning.SequenceClassifier) -----------------------------------------

def _classifier_pair(checkpoints, method: str, pooling: str):
    """peft's model, and ours as a SequenceClassifier on the same encoder with HF's classifier as its head."""
    theirs, ours_bert = PAIRS[method](checkpoints, "bert")
    classifier = SequenceClassifier(ours_bert.model.bert, num_labels=3, pooling=pooling, dropout=0.0)
    classifier.head.out.load_state_dict(ours_bert.model.classifier.state_dict())
    config = PromptTuningConfig(num_virtual_tokens=P) if method == "prompt" else PrefixTuningConfig(num_virtual_tokens=P)
    ours = (PromptTuningModel if method == "prompt" else PrefixTuningModel)(classifier, config)
    (ours.prompt if method == "prompt" else ours.prefix).load_state_dict(
        (ours_bert.prompt if method == "prompt" else ours_bert.prefix).state_dict())
    return theirs, ours.eval()


@pytest.mark.parametrize("method", ["prompt", "prefix"])
def test_sequence_classifier_with_the_pooler_equals_peft(checkpoints, method):
    theirs, ours = _classifier_pair(checkpoints, method, "pooler")
    with torch.no_grad():
        expected, actual = theirs(**_inputs("bert")), ours(**_inputs("bert"))
    torch.testing.assert_close(actual.logits, expected.logits, atol=ATOL, rtol=0)
    torch.testing.assert_close(actual.loss, expected.loss, atol=ATOL, rtol=0)
    assert {name for name, p in ours.named_parameters() if p.requires_grad} == {
        f"{'prompt' if method == 'prompt' else 'prefix'}.embedding.weight", "model.head.out.weight",
        "model.head.out.bias"}


@pytest.mark.parametrize("method", ["prompt", "prefix"])
def test_sequence_classifier_mean_pooling_reads_peft_hidden_states(checkpoints, method):
    """Mean pooling over what the model outputs: P + T positions with a prompt (the virtual tokens count, as
    their mask says), the T real ones with a prefix; padding never."""
    theirs, ours = _classifier_pair(checkpoints, method, "mean")
    with torch.no_grad():
        hidden = theirs(**_inputs("bert"), output_hidden_states=True).hidden_states[-1]  # (B, P + T or T, H)
        mask = torch.cat([torch.ones(3, P, dtype=torch.long), MASK], 1) if method == "prompt" else MASK
        assert hidden.shape[1] == mask.shape[1]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # (B, H)
        expected = pooled @ ours.model.head.out.weight.T + ours.model.head.out.bias
        actual = ours(**_inputs("bert")).logits
    torch.testing.assert_close(actual, expected, atol=ATOL, rtol=0)
