"""A small BERT-style tokenizer built offline: transformers' ``PreTrainedTokenizerFast`` around a ``tokenizers``
WordPiece model, with [CLS] A [SEP] B [SEP] post-processing
(docs/reference-semantics.md, "BERT and the MLM collator")."""

from __future__ import annotations

import pytest

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "sat", "on", "mat", "dog", "ran", "play", "walk", "jump", "a", "big", "small", "red",
         "house", "tree", "green", "blue", "fast", "slow"]
PIECES = ["##s", "##ed", "##ing", "##er", "##ly"]


@pytest.fixture(scope="session")
def hf_tokenizer():
    """WordPiece over ``SPECIALS + WORDS + PIECES`` (ids in that order: [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3,
    [MASK] 4)."""
    tokenizers = pytest.importorskip("tokenizers")
    transformers = pytest.importorskip("transformers")
    vocab = {token: i for i, token in enumerate(SPECIALS + WORDS + PIECES)}
    wordpiece = tokenizers.Tokenizer(tokenizers.models.WordPiece(vocab, unk_token="[UNK]"))
    wordpiece.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    wordpiece.post_processor = tokenizers.processors.BertProcessing(("[SEP]", vocab["[SEP]"]),
                                                                   ("[CLS]", vocab["[CLS]"]))
    return transformers.PreTrainedTokenizerFast(tokenizer_object=wordpiece, unk_token="[UNK]", pad_token="[PAD]",
                                                cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
