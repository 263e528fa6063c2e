"""Tokenization from scratch: BPE (readable and fast), byte-level BPE, WordPiece, and a HF-compatible tokenizer.

Every function here is proven equal to Hugging Face ``tokenizers`` by the differential tests in
``tests/tokenization``.
"""

from tlcourse.tokenization.bert_pretokenize import bert_normalize, bert_pretokenize
from tlcourse.tokenization.bpe import apply_merges, count_pairs, encode_word, merge_pair, train_bpe
from tlcourse.tokenization.bpe_fast import train_bpe_fast
from tlcourse.tokenization.byte_level import (
    byte_level_alphabet,
    byte_level_decode,
    byte_level_pretokenize,
    bytes_to_unicode,
    decode_ids,
    gpt2_split,
)
from tlcourse.tokenization.pretokenize import whitespace_pretokenize
from tlcourse.tokenization.tokenizer import BPETokenizer
from tlcourse.tokenization.wordpiece import WordPieceTokenizer, wordpiece_tokenize

__all__ = [
    "BPETokenizer",
    "WordPieceTokenizer",
    "apply_merges",
    "bert_normalize",
    "bert_pretokenize",
    "byte_level_alphabet",
    "byte_level_decode",
    "byte_level_pretokenize",
    "bytes_to_unicode",
    "count_pairs",
    "decode_ids",
    "encode_word",
    "gpt2_split",
    "merge_pair",
    "train_bpe",
    "train_bpe_fast",
    "whitespace_pretokenize",
    "wordpiece_tokenize",
]
