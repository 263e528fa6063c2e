"""The registry of graded exercises: one spec each, shared by notebooks, hidden tests, the grader and tests.

Notebook test cells call ``check_exercise(name, function)`` for the public cases and
``check_exercise(name, function, cases="hidden")`` inside their hidden-test section.
"""

from tlcourse.exercises import attention, decoding, finetuning, peft, pretraining, tokenization  # noqa: F401  (register every exercise)
from tlcourse.exercises.registry import EXERCISES, Case, Exercise, check_exercise, get_exercise

__all__ = ["EXERCISES", "Case", "Exercise", "check_exercise", "get_exercise"]
