"""Readers of the real datasets, on small files in their exact formats (lines as the real files have them)."""

from __future__ import annotations

import json
import random

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from tlcourse.data.labeled import PairExample, TaggedExample, TextExample
from tlcourse.data.task_files import iob1_to_iob2, read_conll2003, read_conllu, read_nli_jsonl, read_sst2

SST2_TRAIN = (
    "sentence\tlabel\n"
    "hide new secretions from the parental units \t0\n"
    "contains no wit , only labored gags \t0\n"
    "that loves its characters and communicates something rather beautiful about human nature \t1\n"
)
SST2_TEST = (
    "index\tsentence\n"
    "0\tuneasy mishmash of styles and genres .\n"
    "1\tthis film 's relationship to actual tension is the same as what christmas-tree flocking in a spray can is "
    "to actual snow : a poor -- if durable -- imitation ."  # no final newline
)


def snli_row(gold: str, premise: str, hypothesis: str, **extra) -> str:
    row = {"annotator_labels": [gold], "captionID": "3416050480.jpg#4", "gold_label": gold,
           "pairID": "3416050480.jpg#4r1n", "sentence1": premise, "sentence1_binary_parse": "( ( A person ) ... )",
           "sentence2": hypothesis, **extra}  # fmt: skip
    return json.dumps(row)


NLI = "\n".join([
    snli_row("neutral", "A person on a horse jumps over a broken down airplane.",
             "A person is training his horse for a competition."),
    snli_row("-", "Two women are embracing while holding to go packages.", "The men are fighting outside a deli."),
    "",
    snli_row("contradiction", "A person on a horse jumps over a broken down airplane.",
             "A person is at a diner, ordering an omelette."),
    snli_row("entailment", "Conceptually cream skimming has two basic dimensions - product and geography.",
             "Product and geography are what make cream skimming work. ", genre="government", promptID="31193"),
]) + "\n"  # fmt: skip

CONLLU = """\
# newdoc id = weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713
# sent_id = weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0001
# text = From the AP comes this story :
1\tFrom\tfrom\tADP\tIN\t_\t3\tcase\t3:case\t_
2\tthe\tthe\tDET\tDT\tDefinite=Def|PronType=Art\t3\tdet\t3:det\t_
3\tAP\tAP\tPROPN\tNNP\tNumber=Sing\t4\tobl\t4:obl:from\t_
4\tcomes\tcome\tVERB\tVBZ\tMood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin\t0\troot\t0:root\t_
5\tthis\tthis\tDET\tDT\tNumber=Sing|PronType=Dem\t6\tdet\t6:det\t_
6\tstory\tstory\tNOUN\tNN\tNumber=Sing\t4\tnsubj\t4:nsubj\t_
7\t:\t:\tPUNCT\t:\t_\t4\tpunct\t4:punct\t_

# sent_id = multiword
# text = I don't know.
1\tI\tI\tPRON\tPRP\tCase=Nom|Number=Sing|Person=1|PronType=Prs\t4\tnsubj\t4:nsubj\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\tMood=Ind|Tense=Pres|VerbForm=Fin\t4\taux\t4:aux\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t4:advmod\t_
4\tknow\tknow\tVERB\tVB\tVerbForm=Inf\t0\troot\t0:root\tSpaceAfter=No
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t4:punct\t_


# sent_id = empty-node
# text = Sue likes coffee and Bill tea
1\tSue\tSue\tPROPN\tNNP\t_\t2\tnsubj\t2:nsubj\t_
2\tlikes\tlike\tVERB\tVBZ\t_\t0\troot\t0:root\t_
3\tcoffee\tcoffee\tNOUN\tNN\t_\t2\tobj\t2:obj\t_
4\tand\tand\tCCONJ\tCC\t_\t5\tcc\t5.1:cc\t_
5\tBill\tBill\tPROPN\tNNP\t_\t3\tconj\t5.1:nsubj\t_
5.1\tlikes\tlike\tVERB\tVBZ\t_\t_\t_\t2:conj:and\tCopyOf=2
6\ttea\ttea\tNOUN\tNN\t_\t5\torphan\t5.1:obj\t_"""

CONLL2003_IOB1 = """\
-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC
call NN I-NP O
to TO I-VP O
boycott VB I-VP O
British JJ I-NP I-MISC
lamb NN I-NP O
. . O O

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- O O

Germany NNP I-NP I-LOC
, , O O
France NNP I-NP I-LOC
Belgium NNP I-NP B-LOC
"""


def write(tmp_path, name: str, text: str, newline: str = "\n"):
    path = tmp_path / name
    path.write_bytes(text.replace("\n", newline).encode("utf-8"))
    return path


def assert_errors(tmp_path, reader, name: str, missing: str, cases: dict[str, str]) -> None:
    """``reader`` raises FileNotFoundError matching ``missing`` without the file ``name``, and ValueError matching
    each case's message on the file ``name`` holding the case's text."""
    with pytest.raises(FileNotFoundError, match=rf"path: .*{name} does not exist; {missing}"):
        reader(tmp_path / name)
    for text, message in cases.items():
        with pytest.raises(ValueError, match=rf"{name}, line {message}"):
            reader(write(tmp_path, name, text))


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_sst2_train_and_test_files(tmp_path, newline):
    train = read_sst2(write(tmp_path, "train.tsv", SST2_TRAIN, newline))
    assert train == [
        TextExample("hide new secretions from the parental units ", 0),
        TextExample("contains no wit , only labored gags ", 0),
        TextExample("that loves its characters and communicates something rather beautiful about human nature ", 1),
    ]
    test = read_sst2(str(write(tmp_path, "test.tsv", SST2_TEST, newline)))  # a str path works too
    assert [example.label for example in test] == [-1, -1]
    assert test[1].text.startswith("this film 's relationship") and test[1].text.endswith("-- imitation .")


def test_sst2_errors(tmp_path):
    assert_errors(tmp_path, read_sst2, "dev.tsv", r"SST-2 is part of GLUE.*load_dataset\('glue', 'sst2'\)", {
        "sentence\tlabel\nfine \t1\nbad \t2\n": r"3: expected the label 0 or 1, got '2'",
        "sentence\tlabel\nno tab here\n": r"2: expected 2 tab-separated fields .*, got 1",
        "text\tlabel\nfine \t1\n": r"1: expected the header 'sentence\\tlabel'",
        "": r"1: expected the header",
        "index\tsentence\nx\tfine .\n": r"2: expected an index, got 'x'",
    })  # fmt: skip


def test_nli_skips_pairs_without_a_gold_label(tmp_path):
    pairs = read_nli_jsonl(write(tmp_path, "snli_1.0_dev.jsonl", NLI))
    assert pairs == [
        PairExample("A person on a horse jumps over a broken down airplane.",
                    "A person is training his horse for a competition.", 1),
        PairExample("A person on a horse jumps over a broken down airplane.",
                    "A person is at a diner, ordering an omelette.", 2),
        PairExample("Conceptually cream skimming has two basic dimensions - product and geography.",
                    "Product and geography are what make cream skimming work. ", 0),
    ]  # fmt: skip
    assert read_nli_jsonl(write(tmp_path, "last.jsonl", NLI.rstrip("\n"))) == pairs  # no final newline


def test_nli_errors(tmp_path):
    good = snli_row("neutral", "a", "b")
    assert_errors(tmp_path, read_nli_jsonl, "snli_1.0_train.jsonl", r"SNLI is .*load_dataset\('snli'\)", {
        good + "\n{not json\n": r"2: expected a JSON object",
        good + "\n" + json.dumps({"sentence1": "a", "gold_label": "neutral"}): r"2: expected the keys .*got "
                                                                               r"\['gold_label', 'sentence1'\]",
        good + "\n[1, 2]\n": r"2: expected the keys sentence1, sentence2 and gold_label, got list",
        "\n" + snli_row("entails", "a", "b"): r"2: expected a gold_label of .* or '-', got 'entails'",
    })  # fmt: skip


def test_conllu_words_and_upos(tmp_path):
    sentences = read_conllu(write(tmp_path, "en_ewt-ud-dev.conllu", CONLLU))
    assert sentences == [
        TaggedExample(("From", "the", "AP", "comes", "this", "story", ":"),
                      ("ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT")),
        TaggedExample(("I", "do", "n't", "know", "."), ("PRON", "AUX", "PART", "VERB", "PUNCT")),  # not "don't"
        TaggedExample(("Sue", "likes", "coffee", "and", "Bill", "tea"),  # not the empty node 5.1
                      ("PROPN", "VERB", "NOUN", "CCONJ", "PROPN", "NOUN")),
    ]  # fmt: skip
    assert read_conllu(write(tmp_path, "crlf.conllu", CONLLU + "\n\n", "\r\n")) == sentences


def test_conllu_errors(tmp_path):
    word = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_\n"
    assert_errors(tmp_path, read_conllu, "en_ewt-ud-train.conllu", r"Universal Dependencies .*UD_English-EWT", {
        word + "2\tthere\tthere\tADV\tRB\t_\t1\n": r"2: expected 10 tab-separated columns, got 7",
        "# text = Hi\n" + word.replace("INTJ", "Interjection"): r"2: expected a UPOS tag .*got 'Interjection'",
        word + "\n" + word.replace("1\tHi", "one\tHi"): r"3: expected an ID .*, got 'one'",
    })  # fmt: skip


def test_conll2003_tags_as_in_the_file_and_in_iob2(tmp_path):
    sentences = read_conll2003(write(tmp_path, "eng.train", CONLL2003_IOB1))
    assert [s.tokens for s in sentences] == [
        ("EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."),
        ("Peter", "Blackburn"),
        ("Germany", ",", "France", "Belgium"),
    ]
    assert [s.tags for s in sentences] == [
        ("I-ORG", "O", "I-MISC", "O", "O", "O", "I-MISC", "O", "O"),
        ("I-PER", "I-PER"),
        ("I-LOC", "O", "I-LOC", "B-LOC"),
    ]
    assert [iob1_to_iob2(s.tags) for s in sentences] == [
        ["B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O"],
        ["B-PER", "I-PER"],
        ["B-LOC", "O", "B-LOC", "B-LOC"],
    ]
    iob2 = CONLL2003_IOB1.replace("I-ORG", "B-ORG").replace("Peter NNP I-NP I-PER", "Peter NNP B-NP B-PER")
    assert read_conll2003(write(tmp_path, "train.txt", iob2.rstrip("\n")))[1].tags == ("B-PER", "I-PER")


def test_conll2003_errors(tmp_path):
    assert_errors(tmp_path, read_conll2003, "eng.testa", r"CoNLL-2003 is .*load_dataset\('eriktks/conll2003'\)", {
        "EU NNP I-NP I-ORG\nrejects VBZ O\n": r"2: expected 4 space-separated fields .*got 3",
        "-DOCSTART- -X- O O\n\nEU NNP I-NP ORG\n": r"3: expected an NER tag O, B-TYPE or I-TYPE, got 'ORG'",
    })  # fmt: skip


def test_paths_are_str_or_path():
    with pytest.raises(TypeError, match="path: expected a str or Path, got int"):
        read_sst2(3)


def test_iob1_to_iob2_keeps_the_entities_seqeval_reads():
    """seqeval reads IOB1 and IOB2 alike (an I- after O or another type starts an entity): the spans must not move."""
    rng = random.Random(0)
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    for _ in range(500):
        sequence = rng.choices(tags, k=rng.randint(0, 12))
        converted = iob1_to_iob2(sequence)
        assert get_entities(converted) == get_entities(sequence)
        assert iob1_to_iob2(converted) == converted  # IOB2 stays as it is
        assert all(t[:2] != "I-" or (i and converted[i - 1][2:] == t[2:]) for i, t in enumerate(converted))
    with pytest.raises(ValueError, match=r"tags\[1\]: expected O, B-TYPE or I-TYPE, got 'PER'"):
        iob1_to_iob2(["O", "PER"])
    with pytest.raises(TypeError, match="tags: expected a sequence of tags, got a str"):
        iob1_to_iob2("B-PER")
