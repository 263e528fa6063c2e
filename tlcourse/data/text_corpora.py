"""Real corpora for pretraining: folders of text files, WikiText, TinyStories, or any Hugging Face dataset.

Every reader returns documents as a list of strings, in file order, so a pretraining loop treats a real corpus
like the world corpus (``[doc.text for doc in world_corpus()]``); :func:`split_sentences` cuts a document
into the sentences next-sentence prediction needs. Local files are the offline path; :func:`load_hf_dataset`
goes through ``datasets`` (imported only when called) and fails fast, naming the local alternative, when the
package or the network is missing.

Example:
    >>> split_sentences("Anna lives in Oslo. She has a dog! Does Tom?  Yes.")
    ['Anna lives in Oslo.', 'She has a dog!', 'Does Tom?', 'Yes.']
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

#: Where to get the files each reader expects.
WIKITEXT_URL = "https://huggingface.co/datasets/Salesforce/wikitext (config wikitext-2-raw-v1)"
TINYSTORIES_URL = "https://huggingface.co/datasets/roneneldan/TinyStories (TinyStories-valid.txt)"
#: Local alternatives :func:`load_hf_dataset` names when a dataset cannot be loaded.
_LOCAL_ALTERNATIVES = {
    "wikitext": f"read_wikitext('wiki.train.raw'), with the files of {WIKITEXT_URL}",
    "tinystories": f"read_tinystories('TinyStories-valid.txt'), with the file of {TINYSTORIES_URL}",
}
_BLANK_LINES = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_WIKITEXT_HEADING = re.compile(r"^(=(?: =)*) .+ \1$")  # '= Title =', '= = Section = =' (once stripped)
#: GPT-2's document separator, also TinyStories'.
END_OF_TEXT = "<|endoftext|>"


def _existing(path: str | Path, what: str, how: str) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what}: {path} does not exist; {how}")
    return path


def split_sentences(text: str) -> list[str]:
    """Cut ``text`` after ``.``, ``!`` or ``?`` followed by whitespace and a capital, digit or quote.

    A simple rule, good enough for NSP pairs; abbreviations (``Dr. Smith``) are cut too.
    """
    if not isinstance(text, str):
        raise TypeError(f"text: expected str, got {type(text).__name__}")
    return [sentence.strip() for sentence in _SENTENCE_END.split(text.strip()) if sentence.strip()]


def read_text_folder(path: str | Path, pattern: str = "*.txt") -> list[str]:
    """Documents of the files matching ``pattern`` under ``path`` (sorted), split on blank lines.

    Each blank-line-separated block of a file is one document; lines inside a block are joined by spaces.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.txt").write_text("First doc,\\nline two.\\n\\nSecond doc.\\n")
        >>> read_text_folder(folder)
        ['First doc, line two.', 'Second doc.']
    """
    folder = _existing(path, "path", "expected a folder of text files")
    if not folder.is_dir():
        raise NotADirectoryError(f"path: expected a folder of text files, got the file {folder}")
    files = sorted(file for file in folder.rglob(pattern) if file.is_file())
    if not files:
        raise FileNotFoundError(f"path: no file matches {pattern!r} under {folder}")
    documents = []
    for file in files:
        for block in _BLANK_LINES.split(file.read_text(encoding="utf-8")):
            text = " ".join(line.strip() for line in block.splitlines() if line.strip())
            if text:
                documents.append(text)
    return documents


def read_wikitext(path: str | Path, split: str = "train") -> list[str]:
    """Articles of a raw WikiText file (``wiki.train.raw``), or of ``wiki.{split}.raw`` in the folder ``path``.

    Articles start at top-level titles `` = Title = ``; section headings (`` = = Section = = ``) and blank
    lines are dropped, and an article's paragraphs are joined by newlines.

    Shapes:
        returns: one string per article, in file order.
    """
    path = Path(path)
    if path.is_dir():
        path = path / f"wiki.{split}.raw"
    path = _existing(path, "path", f"download WikiText-2 (raw) from {WIKITEXT_URL}")
    articles: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        heading = _WIKITEXT_HEADING.match(line)
        if heading and heading.group(1) == "=":  # a title starts the next article
            articles.append([])
        elif line and not heading:
            if not articles:  # text before the first title: an article without a title
                articles.append([])
            articles[-1].append(line)
    return ["\n".join(paragraphs) for paragraphs in articles if paragraphs]


def read_tinystories(path: str | Path) -> list[str]:
    """Stories of a TinyStories text file, separated by ``<|endoftext|>`` lines; whitespace is trimmed."""
    path = _existing(path, "path", f"download it from {TINYSTORIES_URL}")
    stories = (story.strip() for story in path.read_text(encoding="utf-8").split(END_OF_TEXT))
    return [story for story in stories if story]


def load_hf_dataset(name: str, split: str = "train", *, config: str | None = None, **kwargs: Any) -> Any:
    """``datasets.load_dataset(name, config, split=split, **kwargs)``, with errors that say what to do.

    Needs the ``datasets`` package (``pip install datasets``) and, the first time, the network; the dataset is
    then cached by ``datasets``. Without the package, or offline with nothing cached, it raises at once and
    names the local-file reader to use instead.

    Example (online):
        ``load_hf_dataset("Salesforce/wikitext", "train", config="wikitext-2-raw-v1")["text"]``
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a dataset name such as 'roneneldan/TinyStories', got {name!r}")
    alternative = next((how for key, how in _LOCAL_ALTERNATIVES.items() if key in name.lower()), None)
    instead = f" or, offline, use {alternative}" if alternative else " or read local files with read_text_folder"
    try:
        datasets = importlib.import_module("datasets")
    except ImportError:
        raise ModuleNotFoundError(f"load_hf_dataset needs datasets: pip install datasets{instead}") from None
    try:
        return datasets.load_dataset(name, config, split=split, **kwargs)
    except (ConnectionError, OSError) as error:  # offline, or not found on the Hub nor in the cache
        raise FileNotFoundError(f"could not load the dataset {name!r} ({error}); go online{instead}") from error
