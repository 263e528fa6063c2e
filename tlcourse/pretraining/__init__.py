"""Pretraining objectives and their data: BERT's masked LM (token, whole-word and span masking; static or dynamic)
and next-sentence pairs, and GPT's causal LM (packed blocks, teacher forcing, perplexity).

Each is proven equal to what transformers does where transformers does it (``DataCollatorForLanguageModeling``,
pair truncation, ``run_clm``'s ``group_texts``, the GPT-2 loss) by the tests in ``tests/pretraining``; the model
with both BERT heads is :class:`tlcourse.models.BertForPreTraining`.
"""

from tlcourse.pretraining.clm import clm_loss, evaluate_perplexity, pack_blocks, perplexity, shift_for_clm
from tlcourse.pretraining.collator import MaskingCollator, pad_sequences
from tlcourse.pretraining.masking import mask_tokens, mask_whole_words, mlm_loss, replace_selected, special_tokens_mask
from tlcourse.pretraining.nsp import IS_NEXT, NOT_NEXT, bert_inputs, make_nsp_pairs, nsp_examples, truncate_pair
from tlcourse.pretraining.span_masking import mask_spans, span_length_distribution

__all__ = [
    "IS_NEXT",
    "NOT_NEXT",
    "MaskingCollator",
    "bert_inputs",
    "clm_loss",
    "evaluate_perplexity",
    "make_nsp_pairs",
    "mask_spans",
    "mask_tokens",
    "mlm_loss",
    "mask_whole_words",
    "nsp_examples",
    "pack_blocks",
    "pad_sequences",
    "perplexity",
    "replace_selected",
    "shift_for_clm",
    "span_length_distribution",
    "special_tokens_mask",
    "truncate_pair",
]
