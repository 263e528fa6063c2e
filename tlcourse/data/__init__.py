"""Data for pretraining and fine-tuning, offline first.

- **The world corpus** (:mod:`~tlcourse.data.world`): stories, biographies and reviews of a small deterministic
  world, made by the package itself (about 2 MB, 8,000 documents, in a second or two). Every token carries its
  Universal POS tag, reviews carry a sentiment label and stories/biographies the facts they state, so the
  fine-tuning assignments build sentiment, entailment and POS tasks on the world the models were pretrained on.
- **Tokenizers** (:mod:`~tlcourse.data.tokenizers`): BERT WordPiece and GPT-2 byte-level BPE trained on the
  world corpus in seconds and cached on disk (:mod:`~tlcourse.data.cache`).
- **Real corpora** (:mod:`~tlcourse.data.text_corpora`): folders of text files, WikiText and TinyStories from
  local files, or any dataset through ``datasets`` when online.
- **Labeled sets for fine-tuning** (:mod:`~tlcourse.data.labeled`): sentiment, three-way entailment, POS and NER
  in the same world, with test splits from documents the pretraining corpus never saw; readers for the real ones
  in their usual files (:mod:`~tlcourse.data.task_files`: SST-2 TSV, SNLI/MNLI JSONL, CoNLL-U, CoNLL-2003).

Example:
    >>> docs = world_corpus(n_documents=100)
    >>> sorted({doc.kind for doc in docs}), sorted({doc.label for doc in docs if doc.kind == "review"})
    (['biography', 'review', 'story'], ['negative', 'positive'])
"""

from tlcourse.data.cache import atomic_write, cache_dir, cache_key, cache_path
from tlcourse.data.document import KINDS, UPOS_TAGS, Document, Sentence, detokenize
from tlcourse.data.facts import LABELS, RELATIONS, Fact, entailment_label
from tlcourse.data.labeled import (
    NER_TAGS,
    NLI_LABELS,
    SENTIMENT_LABELS,
    PairExample,
    TaggedExample,
    TextExample,
    world_entailment,
    world_ner,
    world_pos,
    world_sentiment,
)
from tlcourse.data.task_files import iob1_to_iob2, read_conll2003, read_conllu, read_nli_jsonl, read_sst2
from tlcourse.data.text_corpora import (
    load_hf_dataset,
    read_text_folder,
    read_tinystories,
    read_wikitext,
    split_sentences,
)
from tlcourse.data.tokenizers import (
    END_OF_TEXT,
    WORDPIECE_SPECIALS,
    bpe_tokenizer,
    wordpiece_tokenizer,
    wordpiece_vocab,
    world_bpe,
    world_wordpiece,
)
from tlcourse.data.world import WORLD_VERSION, CorpusStats, corpus_stats, world_corpus, world_document

__all__ = [
    "END_OF_TEXT",
    "NER_TAGS",
    "NLI_LABELS",
    "SENTIMENT_LABELS",
    "PairExample",
    "TaggedExample",
    "TextExample",
    "iob1_to_iob2",
    "read_conll2003",
    "read_conllu",
    "read_nli_jsonl",
    "read_sst2",
    "world_entailment",
    "world_ner",
    "world_pos",
    "world_sentiment",
    "KINDS",
    "LABELS",
    "RELATIONS",
    "UPOS_TAGS",
    "WORDPIECE_SPECIALS",
    "WORLD_VERSION",
    "CorpusStats",
    "Document",
    "Fact",
    "Sentence",
    "atomic_write",
    "bpe_tokenizer",
    "cache_dir",
    "cache_key",
    "cache_path",
    "corpus_stats",
    "detokenize",
    "entailment_label",
    "load_hf_dataset",
    "read_text_folder",
    "read_tinystories",
    "read_wikitext",
    "split_sentences",
    "wordpiece_tokenizer",
    "wordpiece_vocab",
    "world_bpe",
    "world_corpus",
    "world_document",
    "world_wordpiece",
]
