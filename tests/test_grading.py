"""End to end: grade the example class with nbgrader and check every student's exact result."""

import csv

import pytest

from autograder.examples import make_class
from autograder.grade import grade

pytestmark = pytest.mark.grading

# 01_tokenization: count_pairs 4, merge_pair 4, train_bpe 8, encode_word 4, decode_ids 4, wordpiece_tokenize 6.
EXPECTED_01 = {
    # student: (score, status, words the reason must contain)
    "ada": (30, "graded", ""),
    # merge_pair and wordpiece_tokenize are wrong, and train_bpe, which uses merge_pair, fails with it.
    "ben": (4 + 4 + 4, "graded", "lost points in test_merge_pair, test_train_bpe, test_wordpiece_tokenize"),
    "cy": (0, "graded", "lost points in test_count_pairs"),
    # count_pairs is never defined, so train_bpe, which calls it, fails too.
    "dee": (4 + 4 + 4 + 6, "graded", "lost points in test_count_pairs, test_train_bpe"),
    "eve": (0, "failed", "the kernel died"),
    "fay": (0, "failed", "not a notebook"),
}


@pytest.fixture(scope="module")
def graded_01(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    make_class("01_tokenization", root / "submissions")
    rows = grade("01_tokenization", root / "submissions", root / "out")
    return root / "out", rows


def test_every_example_student_gets_the_exact_score_and_reason(graded_01):
    out, rows = graded_01
    results = {row.student_id: row for row in rows}
    assert sorted(results) == sorted(EXPECTED_01)
    for student, (score, status, reason) in EXPECTED_01.items():
        row = results[student]
        assert (row.score, row.max_score, row.status) == (score, 30, status), student
        assert reason in row.reason, (student, row.reason)


def test_grades_csv_and_feedback_are_written(graded_01):
    out, rows = graded_01
    with (out / "grades.csv").open() as file:
        table = list(csv.DictReader(file))
    assert [r["student_id"] for r in table] == sorted(EXPECTED_01)
    assert {r["student_id"]: float(r["score"]) for r in table} == {s: float(v[0]) for s, v in EXPECTED_01.items()}
    assert {r["max_score"] for r in table} == {"30"}
    ben = next(r for r in table if r["student_id"] == "ben")
    assert (ben["test_merge_pair"], ben["test_count_pairs"]) == ("0", "4")
    for row in table:
        feedback = out / "feedback" / row["student_id"] / "01_tokenization" / "01_tokenization.html"
        assert feedback.exists() == (row["status"] == "graded"), row["student_id"]
        assert row["feedback"] == (str(feedback.relative_to(out)) if feedback.exists() else "")
    assert (out / "gradebook.db").exists()


def test_feedback_shows_the_failed_check(graded_01):
    out, _ = graded_01
    html = (out / "feedback" / "ben" / "01_tokenization" / "01_tokenization.html").read_text()
    assert "merge_pair, public case 2 of 5" in html  # the overlapping case is the first that ben's bug breaks


def test_a_hanging_submission_is_stopped_and_the_batch_goes_on(tmp_path):
    import nbformat

    from autograder.examples import _answer_cells, _solved

    make_class("01_tokenization", tmp_path / "class")
    submissions = tmp_path / "submissions"
    (submissions / "hal" / "01_tokenization").mkdir(parents=True)
    notebook = _solved("01_tokenization", "01_tokenization.ipynb")
    notebook.cells[_answer_cells(notebook)["count_pairs"]].source += "\nwhile True:\n    pass\n"
    nbformat.write(notebook, submissions / "hal" / "01_tokenization" / "01_tokenization.ipynb")
    (tmp_path / "class" / "ada").rename(submissions / "ada")
    (submissions / "no-notebook" / "01_tokenization").mkdir(parents=True)
    (submissions / "bad id!" / "01_tokenization").mkdir(parents=True)

    rows = {row.student_id: row for row in grade("01_tokenization", submissions, tmp_path / "out", timeout=30)}
    assert (rows["hal"].score, rows["hal"].status, rows["hal"].reason) == (0, "failed", "grading took longer than 30 s")
    assert (rows["ada"].score, rows["ada"].status) == (30, "graded")
    assert (rows["no-notebook"].status, rows["no-notebook"].reason) == ("missing", "no notebook in no-notebook/01_tokenization/")
    assert rows["bad id!"].status == "failed" and "student id" in rows["bad id!"].reason


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    from autograder.__main__ import main

    assert main(["grade", "99_nothing", "--submissions", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "assignment: expected one of ['01_tokenization'" in capsys.readouterr().err
    assert main(["grade", "01_tokenization", "--submissions", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "submissions: expected a folder" in capsys.readouterr().err
