"""Readers for the real fine-tuning datasets, from local files in the formats they are distributed in.

Each returns the examples of :mod:`tlcourse.data.labeled`, so a notebook swaps the world's sets for real ones by
changing one line:

- :func:`read_sst2`: GLUE SST-2 TSV -> :class:`TextExample` (sentiment, 0 = negative, 1 = positive);
- :func:`read_nli_jsonl`: SNLI / MultiNLI JSONL -> :class:`PairExample` (labels of :data:`NLI_LABELS`);
- :func:`read_conllu`: Universal Dependencies CoNLL-U -> :class:`TaggedExample` (words and UPOS tags);
- :func:`read_conll2003`: CoNLL-2003 NER -> :class:`TaggedExample` (words and NER tags; :func:`iob1_to_iob2`).

A missing file raises ``FileNotFoundError`` saying where the dataset comes from; a malformed line raises
``ValueError`` naming the file and the line number. Files are read as UTF-8.

Example:
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "dev.tsv"
    >>> _ = path.write_text("sentence\\tlabel\\nit 's a charming and often affecting journey . \\t1\\n")
    >>> read_sst2(path)
    [TextExample(text="it 's a charming and often affecting journey . ", label=1)]
    >>> iob1_to_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC"])
    ['B-PER', 'I-PER', 'O', 'B-LOC', 'B-LOC']
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

from tlcourse.data.document import UPOS_TAGS
from tlcourse.data.labeled import NLI_LABELS, PairExample, TaggedExample, TextExample
from tlcourse.data.text_corpora import _existing

#: Where each dataset comes from, for the error a missing file raises.
SOURCES = {
    "sst2": "SST-2 is part of GLUE (https://dl.fbaipublicfiles.com/glue/data/SST-2.zip: train.tsv, dev.tsv, "
    "test.tsv); online, datasets.load_dataset('glue', 'sst2') gives the same sentences",
    "nli": "SNLI is https://nlp.stanford.edu/projects/snli/snli_1.0.zip (snli_1.0_train.jsonl, ...), MultiNLI "
    "https://cims.nyu.edu/~sbowman/multinli/multinli_1.0.zip (multinli_1.0_train.jsonl, ...); online, "
    "datasets.load_dataset('snli') or datasets.load_dataset('glue', 'mnli') give the same pairs",
    "conllu": "Universal Dependencies treebanks are at https://universaldependencies.org (for English, "
    "en_ewt-ud-train.conllu of https://github.com/UniversalDependencies/UD_English-EWT); online, "
    "datasets.load_dataset('universal_dependencies', 'en_ewt') gives the same sentences",
    "conll2003": "CoNLL-2003 is https://www.clips.uantwerpen.be/conll2003/ner/ (eng.train, eng.testa, eng.testb; "
    "the text needs the Reuters corpus); online, datasets.load_dataset('eriktks/conll2003') gives it in IOB2",
}


def _lines(path: str | Path, source: str) -> Iterator[tuple[Path, int, str]]:
    """``(path, line number from 1, line without its end)`` for each line of the UTF-8 file ``path``."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path: expected a str or Path, got {type(path).__name__}")
    path = _existing(path, "path", SOURCES[source])
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), start=1):
        yield path, number, line.removesuffix("\r")


def _malformed(path: Path, number: int, message: str) -> ValueError:
    return ValueError(f"{path}, line {number}: {message}")


def read_sst2(path: str | Path) -> list[TextExample]:
    """The sentences of a GLUE SST-2 file and their labels (0 = negative, 1 = positive).

    ``train.tsv`` and ``dev.tsv`` start with the header ``sentence<TAB>label``; GLUE's ``test.tsv`` has
    ``index<TAB>sentence`` and no labels, so its examples get label -1 (as ``datasets`` gives them). Sentences are
    kept exactly, with the space before the tab that GLUE's files have (``datasets`` keeps it too).

    Shapes:
        returns: one :class:`TextExample` per row, in file order.
    """
    examples: list[TextExample] = []
    header = None
    for path, number, line in _lines(path, "sst2"):
        if header is None:
            if line not in ("sentence\tlabel", "index\tsentence"):
                raise _malformed(path, number, f"expected the header 'sentence\\tlabel' (train, dev) or "
                                               f"'index\\tsentence' (test), got {line!r}")  # fmt: skip
            header = line
            continue
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise _malformed(path, number, f"expected 2 tab-separated fields ({header!r}), got {len(fields)}")
        if header == "index\tsentence":
            if not fields[0].isdigit():
                raise _malformed(path, number, f"expected an index, got {fields[0]!r}")
            examples.append(TextExample(fields[1], -1))
        elif fields[1] not in ("0", "1"):
            raise _malformed(path, number, f"expected the label 0 or 1, got {fields[1]!r}")
        else:
            examples.append(TextExample(fields[0], int(fields[1])))
    return examples


def read_nli_jsonl(path: str | Path) -> list[PairExample]:
    """The pairs of an SNLI or MultiNLI JSONL file (``sentence1``, ``sentence2``, ``gold_label``).

    Rows whose ``gold_label`` is ``"-"`` (the annotators did not agree) are skipped, as SNLI's and MultiNLI's
    authors and every benchmark do; labels become indices of :data:`NLI_LABELS`.

    Shapes:
        returns: one :class:`PairExample` per labeled row, in file order.
    """
    examples: list[PairExample] = []
    for path, number, line in _lines(path, "nli"):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise _malformed(path, number, f"expected a JSON object, got {error}") from None
        if not isinstance(row, dict) or not {"sentence1", "sentence2", "gold_label"} <= set(row):
            got = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise _malformed(path, number, f"expected the keys sentence1, sentence2 and gold_label, got {got}")
        label = row["gold_label"]
        if label == "-":
            continue
        if label not in NLI_LABELS:
            raise _malformed(path, number, f"expected a gold_label of {NLI_LABELS} or '-', got {label!r}")
        examples.append(PairExample(row["sentence1"], row["sentence2"], NLI_LABELS.index(label)))
    return examples


def read_conllu(path: str | Path) -> list[TaggedExample]:
    """The sentences of a CoNLL-U file (Universal Dependencies): each word's FORM and UPOS (columns 2 and 4).

    ``#`` lines are comments; a word line has 10 tab-separated columns; a blank line ends a sentence (the last
    one may lack it). Multiword tokens (ID ``3-4``: *don't* over *do* and *n't*) and empty nodes (ID ``5.1``)
    are skipped: the syntactic words that follow a multiword token carry the tags.

    Shapes:
        returns: one :class:`TaggedExample` per sentence, tags from :data:`~tlcourse.data.document.UPOS_TAGS`.
    """
    sentences: list[TaggedExample] = []
    words: list[tuple[str, str]] = []
    for path, number, line in _lines(path, "conllu"):
        if not line.strip():
            if words:
                sentences.append(TaggedExample(*zip(*words)))
            words = []
        elif not line.startswith("#"):
            columns = line.split("\t")
            if len(columns) != 10:
                raise _malformed(path, number, f"expected 10 tab-separated columns, got {len(columns)}")
            word_id, form, _, upos = columns[:4]
            if "-" in word_id or "." in word_id:  # multiword token or empty node
                continue
            if not word_id.isdigit():
                raise _malformed(path, number, f"expected an ID such as 3, 3-4 or 3.1, got {word_id!r}")
            if upos not in UPOS_TAGS:
                raise _malformed(path, number, f"expected a UPOS tag of {UPOS_TAGS}, got {upos!r}")
            words.append((form, upos))
    if words:
        sentences.append(TaggedExample(*zip(*words)))
    return sentences


def _is_iob(tag: str) -> bool:
    return tag == "O" or (tag[:2] in ("B-", "I-") and len(tag) > 2)


def read_conll2003(path: str | Path) -> list[TaggedExample]:
    """The sentences of a CoNLL-2003 NER file (``token POS chunk NER`` per line), tags as the file has them.

    ``-DOCSTART-`` lines (and the blank line after them) are skipped; a blank line ends a sentence. The original
    release tags in IOB1 (``I-`` starts an entity unless it follows one of the same type); many copies,
    ``datasets``' among them, are already IOB2: :func:`iob1_to_iob2` turns the one into the other and leaves
    IOB2 as it is.

    Shapes:
        returns: one :class:`TaggedExample` per sentence.
    """
    sentences: list[TaggedExample] = []
    words: list[tuple[str, str]] = []
    for path, number, line in _lines(path, "conll2003"):
        fields = line.split()
        if not fields:
            if words:
                sentences.append(TaggedExample(*zip(*words)))
            words = []
        elif fields[0] != "-DOCSTART-":
            if len(fields) != 4:
                raise _malformed(path, number, f"expected 4 space-separated fields (token POS chunk NER), "
                                               f"got {len(fields)}")  # fmt: skip
            if not _is_iob(fields[3]):
                raise _malformed(path, number, f"expected an NER tag O, B-TYPE or I-TYPE, got {fields[3]!r}")
            words.append((fields[0], fields[3]))
    if words:
        sentences.append(TaggedExample(*zip(*words)))
    return sentences


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 tags as IOB2: an ``I-X`` that starts an entity (after ``O``, another type, or first) becomes ``B-X``.

    In IOB1, ``B-X`` only separates two adjacent entities of type X, so it stays; IOB2 input comes back unchanged.

    Shapes:
        tags: n tags ``O``, ``B-TYPE`` or ``I-TYPE``; returns: n tags.
    """
    if isinstance(tags, str):
        raise TypeError("tags: expected a sequence of tags, got a str")
    result: list[str] = []
    for i, tag in enumerate(tags):
        if not isinstance(tag, str) or not _is_iob(tag):
            raise ValueError(f"tags[{i}]: expected O, B-TYPE or I-TYPE, got {tag!r}")
        previous = result[-1] if result else "O"
        starts = tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:])
        result.append("B-" + tag[2:] if starts else tag)
    return result
