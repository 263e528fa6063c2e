"""Grading pipeline of the course, built on nbgrader: release, autograde, gradebook, feedback.

Run ``python -m autograder --help``. The checks that hidden tests run live in ``tlcourse.exercises``.
"""
