"""Readers of real corpora, on small local files in the real formats; datasets is never reached."""

from __future__ import annotations

import sys
import types

import pytest

from tlcourse.data import load_hf_dataset, read_text_folder, read_tinystories, read_wikitext, split_sentences

# The layout of wiki.train.raw: ' = Title = ' lines start articles, ' = = Section = = ' lines start sections,
# every line starts with a space, blank lines are ' '.
WIKITEXT = """ 
 = Valkyria Chronicles III = 
 
 Senjō no Valkyria 3 is a tactical role @-@ playing video game . It was released in 2011 . 
 The game began development in 2010 . 
 
 = = Gameplay = = 
 
 As with previous games , the player controls a squad . 
 
 = = = Units = = = 
 
 Units have classes . 
 
 = Tower Building of the Little Rock Arsenal = 
 
 The Tower Building is a historic building in Little Rock , Arkansas . 
"""

TINYSTORIES = """Once upon a time, there was a little girl named Lily. She loved to play outside.
One day, she saw a big dog.
<|endoftext|>
Tom had a red ball. He threw it high.
<|endoftext|>

<|endoftext|>
"""


def test_read_text_folder(tmp_path):
    (tmp_path / "b.txt").write_text("Second file.\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("First doc,\nline two.\n\n\n  \nSecond doc.\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("Nested.\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# Not text\n", encoding="utf-8")
    assert read_text_folder(tmp_path) == ["First doc, line two.", "Second doc.", "Second file.", "Nested."]
    assert read_text_folder(tmp_path, pattern="*.md") == ["# Not text"]


def test_read_text_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_text_folder(tmp_path / "missing")
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    with pytest.raises(NotADirectoryError, match="folder"):
        read_text_folder(tmp_path / "a.txt")
    with pytest.raises(FileNotFoundError, match=r"\*\.csv"):
        read_text_folder(tmp_path, pattern="*.csv")


def test_read_wikitext_splits_articles_at_titles(tmp_path):
    (tmp_path / "wiki.train.raw").write_text(WIKITEXT, encoding="utf-8")
    articles = read_wikitext(tmp_path / "wiki.train.raw")
    assert articles == [
        "Senjō no Valkyria 3 is a tactical role @-@ playing video game . It was released in 2011 .\n"
        "The game began development in 2010 .\n"
        "As with previous games , the player controls a squad .\n"
        "Units have classes .",
        "The Tower Building is a historic building in Little Rock , Arkansas .",
    ]
    assert read_wikitext(tmp_path) == articles  # a folder: wiki.{split}.raw inside
    assert split_sentences(articles[0].splitlines()[0]) == [
        "Senjō no Valkyria 3 is a tactical role @-@ playing video game .",
        "It was released in 2011 .",
    ]


def test_read_wikitext_missing_file_says_where_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="wiki.valid.raw.*wikitext-2-raw-v1"):
        read_wikitext(tmp_path, split="valid")


def test_read_tinystories(tmp_path):
    path = tmp_path / "TinyStories-valid.txt"
    path.write_text(TINYSTORIES, encoding="utf-8")
    stories = read_tinystories(path)
    assert stories == [
        "Once upon a time, there was a little girl named Lily. She loved to play outside.\nOne day, she saw a big dog.",
        "Tom had a red ball. He threw it high.",
    ]
    assert split_sentences(stories[1]) == ["Tom had a red ball.", "He threw it high."]
    with pytest.raises(FileNotFoundError, match="TinyStories"):
        read_tinystories(tmp_path / "missing.txt")


def test_split_sentences_checks_its_argument():
    assert split_sentences("  ") == []
    with pytest.raises(TypeError, match="text"):
        split_sentences(["a"])


def _fake_datasets(monkeypatch, load_dataset):
    module = types.ModuleType("datasets")
    module.load_dataset = load_dataset
    monkeypatch.setitem(sys.modules, "datasets", module)


def test_load_hf_dataset_without_the_package_names_the_install_and_the_local_reader(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(ModuleNotFoundError, match=r"pip install datasets.*read_wikitext"):
        load_hf_dataset("Salesforce/wikitext", config="wikitext-2-raw-v1")
    with pytest.raises(ModuleNotFoundError, match=r"pip install datasets.*read_text_folder"):
        load_hf_dataset("someone/corpus")


def test_load_hf_dataset_offline_names_the_local_reader(monkeypatch):
    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'roneneldan/TinyStories' on the Hub (LocalEntryNotFoundError)")

    _fake_datasets(monkeypatch, offline)
    with pytest.raises(FileNotFoundError, match=r"roneneldan/TinyStories.*read_tinystories"):
        load_hf_dataset("roneneldan/TinyStories", "validation")


def test_load_hf_dataset_passes_its_arguments(monkeypatch):
    calls = []
    _fake_datasets(monkeypatch, lambda *args, **kwargs: calls.append((args, kwargs)) or "dataset")
    assert load_hf_dataset("Salesforce/wikitext", "test", config="wikitext-2-raw-v1", streaming=True) == "dataset"
    assert calls == [(("Salesforce/wikitext", "wikitext-2-raw-v1"), {"split": "test", "streaming": True})]
    with pytest.raises(ValueError, match="name"):
        load_hf_dataset("")
