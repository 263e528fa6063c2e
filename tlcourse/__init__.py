"""tlcourse: reference implementations for a transfer-learning course for NLP.

Each module holds one concept the notebooks teach (``tlcourse.tokenization`` for BPE, byte-level BPE and
WordPiece; later ``attention``, ``models``, ...). ``tlcourse.checks`` compares a student's answer with a
reference and ``tlcourse.exercises`` registers every graded exercise.
"""

__version__ = "0.1.0"
