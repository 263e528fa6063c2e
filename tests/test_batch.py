"""The hardened batch: exact grades of the example class, nbgrader's gradebook and feedback from the trusted
verdicts, the same grades with 1 or 2 workers, on a Dask cluster and in sharded runs, and a batch killed with
``kill -9`` that resumes to the grades of an uninterrupted run without grading anything twice."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.batch import collect, grade_batch, grade_shard, read_journals
from autograder.course import REPO
from autograder.examples import make_class
from autograder.hardened import instructor_tests
from autograder.remote import Budgets, isolation

pytestmark = pytest.mark.grading

ASSIGNMENT = "04_pretraining_clm"
# 04: causal_mask 2, shift_for_clm 3, clm_loss 5, pack_blocks 5 (the points come from the instructor's notebook).
EXPECTED = {
    "ada": (15, "graded", ""),
    "ben": (7, "graded", "lost points in test_shift_for_clm, test_pack_blocks"),
    "cy": (0, "graded", "lost points in test_causal_mask (missing), test_shift_for_clm (missing)"),
    "dee": (13, "graded", "lost points in test_causal_mask (missing)"),
    "eve": (0, "graded", "test_causal_mask (kernel died)"),
    "fay": (0, "failed", "the file is not JSON"),
}


def _table(out: Path) -> list[dict]:
    with (out / "grades.csv").open() as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    make_class(ASSIGNMENT, root)
    return root


@pytest.fixture(scope="module")
def graded(submissions, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return out, grade_batch(ASSIGNMENT, submissions, out, progress=False)


def test_every_student_gets_the_exact_score_status_and_reason(graded):
    _, rows = graded
    assert {r.student_id: (r.score, r.status) for r in rows} == {s: e[:2] for s, e in EXPECTED.items()}
    for row in rows:
        assert EXPECTED[row.student_id][2] in row.reason, (row.student_id, row.reason)
        assert row.max_score == 15


def test_the_gradebook_holds_each_tests_score(graded):
    from nbgrader.api import Gradebook

    out, rows = graded
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gradebook:
        for row in rows:
            if row.status != "graded":
                continue
            submission = gradebook.find_submission(ASSIGNMENT, row.student_id)
            assert submission.score == row.score
            scores = {g.name: g.score for nb in submission.notebooks for g in nb.grades}
            assert scores == row.cells


def test_feedback_shows_each_verdict_and_never_a_hidden_test(graded):
    out, _ = graded
    page = (out / "feedback" / "ben" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "shift_for_clm, public case 1 of 3 differs from the reference" in page
    instructor = (REPO / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" in instructor and 'cases=\\"hidden\\"' in instructor
    assert "HIDDEN TESTS" not in page and 'cases="hidden"' not in page and "cases=&quot;hidden" not in page


def test_results_json_and_timing_are_written(graded):
    out, rows = graded
    for row in rows:
        results = json.loads((out / "results" / f"{row.student_id}.json").read_text())
        assert results["score"] == row.score
        assert [t["name"] for t in results["tests"]] == [t.grade_id for t in instructor_tests(ASSIGNMENT)]
    with (out / "timing.csv").open() as file:
        timing = list(csv.DictReader(file))
    assert [t["student_id"] for t in timing] == sorted(EXPECTED) and all(float(t["seconds"]) > 0 for t in timing)
    assert json.loads((out / "isolation.json").read_text()) == isolation()  # the layers the runs got here


def test_regrading_grades_nothing_again_and_gives_the_same_table(submissions, graded):
    out, _ = graded
    lines = (out / "journal" / "shard-1-of-1.jsonl").read_text()
    before = _table(out)
    grade_batch(ASSIGNMENT, submissions, out, progress=False)
    assert (out / "journal" / "shard-1-of-1.jsonl").read_text() == lines
    assert _table(out) == before


def test_two_workers_and_two_shards_give_the_same_grades(submissions, graded, tmp_path):
    out, _ = graded
    grade_batch(ASSIGNMENT, submissions, tmp_path / "two", workers=2, progress=False)
    assert _table(tmp_path / "two") == _table(out)
    for index in (2, 1):  # in either order: each shard grades its own students
        grade_shard(ASSIGNMENT, submissions, tmp_path / "shards", shard=(index, 2), progress=False)
    journals = sorted(p.name for p in (tmp_path / "shards" / "journal").iterdir())
    assert journals == ["shard-1-of-2.jsonl", "shard-2-of-2.jsonl"]
    collect(ASSIGNMENT, submissions, tmp_path / "shards")
    assert _table(tmp_path / "shards") == _table(out)


def test_a_dask_cluster_grades_every_notebook_to_the_same_grades(submissions, graded, tmp_path):
    from distributed import Client, LocalCluster, get_task_stream

    out, _ = graded
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client, get_task_stream(client) as tasks:
        workers = set(client.scheduler_info()["workers"])
        grade_batch(ASSIGNMENT, submissions, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    assert _table(tmp_path / "dask") == _table(out)
    ran = [t for t in tasks.data if "_grade_one" in str(t["key"])]
    assert len(ran) == len(EXPECTED)  # every student's file was a task of the cluster's workers
    assert {t["worker"] for t in ran} <= workers and len(workers) == 2


def test_a_shard_that_has_not_run_leaves_its_students_ungraded(submissions, tmp_path):
    grade_shard(ASSIGNMENT, submissions, tmp_path / "half", shard=(1, 3), progress=False)
    rows = {r.student_id: r for r in collect(ASSIGNMENT, submissions, tmp_path / "half")}
    assert {s for s, r in rows.items() if r.status == "failed" and "not graded yet" in r.reason} == {
        "ben", "cy", "eve", "fay"}
    assert rows["ada"].score == 15 and rows["dee"].score == 13


def test_a_batch_killed_with_sigkill_resumes_to_the_same_grades(submissions, graded, tmp_path):
    out, _ = graded
    command = [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, "--submissions", str(submissions),
               "--out", str(tmp_path / "killed")]
    journal = tmp_path / "killed" / "journal" / "shard-1-of-1.jsonl"
    first = subprocess.Popen(command, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (journal.exists() and journal.read_text().count("\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the grader, its workers and (parent death) its sandboxes
    first.wait()
    graded_before = journal.read_text().count("\n")
    assert 2 <= graded_before < 6
    with journal.open("a") as file:
        file.write('{"student_id": "zed", "key": "cut in ha')  # a line cut off by the kill
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert _table(tmp_path / "killed") == _table(out)
    entries = [json.loads(line) for line in journal.read_text().splitlines() if line.endswith("}")]
    assert sorted(e["student_id"] for e in entries) == sorted(EXPECTED)  # each graded once
    assert set(read_journals(tmp_path / "killed")) == set(EXPECTED)


def test_bad_arguments_are_clear_errors(submissions, tmp_path, capsys):
    from autograder.__main__ import main

    common = [ASSIGNMENT, "--submissions", str(submissions), "--out", str(tmp_path / "out")]
    assert main(["grade", *common, "--workers", "0"]) == 2
    assert "workers: expected a positive int, got 0" in capsys.readouterr().err
    assert main(["grade", *common, "--shard", "3/2"]) == 2
    assert "shard: expected (i, n) with 1 <= i <= n, got (3, 2)" in capsys.readouterr().err
    assert main(["grade", *common, "--scheduler", "tcp://127.0.0.1:9"]) == 2
    assert "scheduler: expected the address of a running Dask scheduler" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["grade", *common, "--shard", "half"])
    assert "expected I/N such as 2/8, got 'half'" in capsys.readouterr().err


def test_a_class_with_hanging_submissions_gets_every_grade_and_says_which_budget_ran_out(tmp_path):
    """01's example class with three submissions that never end, graded on two workers: the six get their grades
    (stock nbgrader's too: tests/test_grading.py), and each hanging one loses only what hung, with the budget
    named (``benchmarks/bench_budgets.py`` times such a class against the six alone)."""
    make_class("01_tokenization", tmp_path / "class", hanging=True)
    rows = {r.student_id: r for r in grade_batch("01_tokenization", tmp_path / "class", tmp_path / "out", workers=2,
                                                 budgets=Budgets(cell_seconds=10), progress=False)}
    six = {"ada": 30, "ben": 12, "cy": 0, "dee": 18, "eve": 0, "fay": 0}
    # count_pairs 4, merge_pair 4, train_bpe 8 (calls count_pairs and merge_pair), encode_word 4, decode_ids 4,
    # wordpiece_tokenize 6
    assert {s: r.score for s, r in rows.items()} == {**six, "hal": 18, "hank": 18, "sal": 24}
    assert rows["hal"].reason == "lost points in test_count_pairs (timeout), test_train_bpe (timeout)"
    assert rows["hank"].reason == "lost points in test_count_pairs (missing), test_train_bpe (error)"
    assert rows["sal"].reason == "lost points in test_wordpiece_tokenize (timeout)"
    results = {s: json.loads((tmp_path / "out" / "results" / f"{s}.json").read_text()) for s in ("hal", "hank", "sal")}
    output = {s: {t["name"]: t["output"] for t in r["tests"]} for s, r in results.items()}
    assert output["hal"]["test_count_pairs"].startswith(
        "count_pairs, public case 1 of 4: no result (it ran longer than its budget of 5 s and was interrupted after 5")
    assert re.fullmatch(r"count_pairs is not defined \(a cell raised TimeoutError: it ran longer than its budget of "
                        r"10 s and was interrupted \(line [12]\)\)", output["hank"]["test_count_pairs"])
    assert output["sal"]["test_wordpiece_tokenize"].startswith(
        "wordpiece_tokenize, public case 1 of ")
    assert "no result (it ran longer than its budget of 5 s and was interrupted after 5" in \
        output["sal"]["test_wordpiece_tokenize"]
