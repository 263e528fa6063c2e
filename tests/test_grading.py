"""End to end: grade the example class of every assignment, with stock nbgrader and with the hardened batch, and
check every student's exact result."""

import csv

import pytest

from autograder.batch import grade_batch
from autograder.examples import make_class
from autograder.grade import grade

pytestmark = pytest.mark.grading

# 01_tokenization: count_pairs 4, merge_pair 4, train_bpe 8, encode_word 4, decode_ids 4, wordpiece_tokenize 6.
# 02_attention: scaled_dot_product_attention 8, padding_mask 2, causal_mask 3, split_heads 3, merge_heads 2,
# MultiHeadAttention 8, sinusoidal_positions 4, TransformerBlock 6, LMHead 4.
EXPECTED = {
    # assignment: (max score, {student: (score, status, words the reason must contain)})
    "01_tokenization": (30, {
        "ada": (30, "graded", ""),
        # merge_pair and wordpiece_tokenize are wrong, and train_bpe, which uses merge_pair, fails with it.
        "ben": (4 + 4 + 4, "graded", "lost points in test_merge_pair, test_train_bpe, test_wordpiece_tokenize"),
        "cy": (0, "graded", "lost points in test_count_pairs"),
        # count_pairs is never defined, so train_bpe, which calls it, fails too.
        "dee": (4 + 4 + 4 + 6, "graded", "lost points in test_count_pairs, test_train_bpe"),
        "eve": (0, "failed", "the kernel died"),
        "fay": (0, "failed", "not a notebook"),
    }),
    "02_attention": (40, {
        "ada": (40, "graded", ""),
        # causal_mask, merge_heads and sinusoidal_positions are wrong; MultiHeadAttention uses merge_heads.
        "ben": (8 + 2 + 3 + 6 + 4, "graded",
                "lost points in test_causal_mask, test_merge_heads, test_MultiHeadAttention, "
                "test_sinusoidal_positions"),
        "cy": (0, "graded", "lost points in test_scaled_dot_product_attention"),
        # scaled_dot_product_attention is never defined, so MultiHeadAttention, which calls it, fails too.
        "dee": (2 + 3 + 3 + 2 + 4 + 6 + 4, "graded",
                "lost points in test_scaled_dot_product_attention, test_MultiHeadAttention"),
        "eve": (0, "failed", "the kernel died"),
        "fay": (0, "failed", "not a notebook"),
    }),
    "03_pretraining_mlm": (26, {
        "ada": (26, "graded", ""),
        # mask_tokens, mlm_loss and make_nsp_pairs are wrong.
        "ben": (3 + 6, "graded", "lost points in test_mask_tokens, test_mlm_loss, test_make_nsp_pairs"),
        "cy": (0, "graded", "lost points in test_mask_tokens"),
        # mask_tokens is never defined.
        "dee": (4 + 5 + 3 + 6, "graded", "lost points in test_mask_tokens"),
        "eve": (0, "failed", "the kernel died"),
        "fay": (0, "failed", "not a notebook"),
    }),
    "04_pretraining_clm": (15, {
        "ada": (15, "graded", ""),
        # shift_for_clm and pack_blocks are wrong; no other test calls them.
        "ben": (2 + 5, "graded", "lost points in test_shift_for_clm, test_pack_blocks"),
        "cy": (0, "graded", "lost points in test_causal_mask"),
        # causal_mask is never defined.
        "dee": (3 + 5 + 5, "graded", "lost points in test_causal_mask"),
        "eve": (0, "failed", "the kernel died"),
        "fay": (0, "failed", "not a notebook"),
    }),
    "05_decoding": (23, {
        "ada": (23, "graded", ""),
        # top_k_filter, top_p_filter and length_normalised are wrong; no other test calls them.
        "ben": (2 + 2 + 5 + 3, "graded",
                "lost points in test_top_k_filter, test_top_p_filter, test_length_normalised"),
        "cy": (0, "graded", "lost points in test_greedy_step"),
        # greedy_step is never defined.
        "dee": (2 + 4 + 5 + 5 + 2 + 3, "graded", "lost points in test_greedy_step"),
        "eve": (0, "failed", "the kernel died"),
        "fay": (0, "failed", "not a notebook"),
    }),
    "06_finetuning": (20, {
        "ada": (20, "graded", ""),
        # pair_input, align_labels and freeze_except are wrong; no other test calls them.
        "ben": (3 + 2 + 4, "graded", "lost points in test_pair_input, test_align_labels, test_freeze_except"),
        "cy": (0, "graded", "lost points in test_mean_pooling"),
        # mean_pooling is never defined.
        "dee": (2 + 4 + 4 + 4 + 3, "graded", "lost points in test_mean_pooling"),
        "eve": (0, "failed", "the kernel died"),
        "fay": (0, "failed", "not a notebook"),
    }),
    "07_peft": (15, {
        "ada": (15, "graded", ""),
        # lora_forward, bitfit_parameters and prompt_inputs are wrong; no other test calls them.
        "ben": (3 + 2 + 2, "graded", "lost points in test_lora_forward, test_bitfit_parameters, test_prompt_inputs"),
        "cy": (0, "graded", "lost points in test_adapter_forward"),
        # adapter_forward is never defined.
        "dee": (2 + 3 + 2 + 2 + 3, "graded", "lost points in test_adapter_forward"),
        "eve": (0, "failed", "the kernel died"),
        "fay": (0, "failed", "not a notebook"),
    }),
}
# The first public case that ben's first bug breaks, as the feedback must show it.
BEN_FEEDBACK = {"01_tokenization": "merge_pair, public case 2 of 5", "02_attention": "causal_mask, public case 3 of 3",
                "03_pretraining_mlm": "mask_tokens, public case 4 of 4",
                "04_pretraining_clm": "shift_for_clm, public case 1 of 3",
                "05_decoding": "top_k_filter, public case 2 of 4",
                "06_finetuning": "pair_input, public case 3 of 5", "07_peft": "lora_forward, public case 1 of 3"}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def assignment(request):
    return request.param


@pytest.fixture(scope="module")
def graded(assignment, tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    make_class(assignment, root / "submissions")
    rows = grade(assignment, root / "submissions", root / "out")
    return assignment, root / "out", rows


def test_every_example_student_gets_the_exact_score_and_reason(graded):
    assignment, out, rows = graded
    max_score, expected = EXPECTED[assignment]
    results = {row.student_id: row for row in rows}
    assert sorted(results) == sorted(expected)
    for student, (score, status, reason) in expected.items():
        row = results[student]
        assert (row.score, row.max_score, row.status) == (score, max_score, status), student
        assert reason in row.reason, (student, row.reason)


def test_grades_csv_and_feedback_are_written(graded):
    assignment, out, rows = graded
    max_score, expected = EXPECTED[assignment]
    with (out / "grades.csv").open() as file:
        table = list(csv.DictReader(file))
    assert [r["student_id"] for r in table] == sorted(expected)
    assert {r["student_id"]: float(r["score"]) for r in table} == {s: float(v[0]) for s, v in expected.items()}
    assert {r["max_score"] for r in table} == {str(max_score)}
    for row in table:
        feedback = out / "feedback" / row["student_id"] / assignment / f"{assignment}.html"
        assert feedback.exists() == (row["status"] == "graded"), row["student_id"]
        assert row["feedback"] == (str(feedback.relative_to(out)) if feedback.exists() else "")
    assert (out / "gradebook.db").exists()


def test_per_test_columns_hold_the_points_of_each_test(graded):
    assignment, out, _ = graded
    with (out / "grades.csv").open() as file:
        ben = next(r for r in csv.DictReader(file) if r["student_id"] == "ben")
    first_bug = BEN_FEEDBACK[assignment].split(",")[0]
    assert ben[f"test_{first_bug}"] == "0"
    lost = EXPECTED[assignment][1]["ben"][2]  # "lost points in test_a, test_b"
    assert ben[next(k for k in ben if k.startswith("test_") and k not in lost)] != "0"  # a right exercise scores


def test_feedback_shows_the_failed_check(graded):
    assignment, out, _ = graded
    html = (out / "feedback" / "ben" / assignment / f"{assignment}.html").read_text()
    assert BEN_FEEDBACK[assignment] in html


def test_the_hardened_batch_gives_every_example_student_the_same_score(assignment, tmp_path):
    """Out of process, the scores are nbgrader's; the notebook that kills its process still gets a result per test
    (0, kernel died) and is graded, not failed."""
    make_class(assignment, tmp_path / "submissions")
    rows = {r.student_id: r for r in grade_batch(assignment, tmp_path / "submissions", tmp_path / "out",
                                                 progress=False)}
    max_score, expected = EXPECTED[assignment]
    assert {s: (r.score, r.max_score) for s, r in rows.items()} == {s: (e[0], max_score) for s, e in expected.items()}
    assert {s for s, r in rows.items() if r.status == "graded"} == set(expected) - {"fay"}
    assert rows["eve"].status == "graded" and "(kernel died)" in rows["eve"].reason
    assert rows["fay"].status == "failed" and rows["fay"].reason.startswith("the file is not JSON")
    html = (tmp_path / "out" / "feedback" / "ben" / assignment / f"{assignment}.html").read_text()
    assert BEN_FEEDBACK[assignment] in html


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

    rows = {row.student_id: row for row in grade("01_tokenization", submissions, tmp_path / "out", timeout=45)}
    assert (rows["hal"].score, rows["hal"].status, rows["hal"].reason) == (0, "failed", "grading took longer than 45 s")
    assert (rows["ada"].score, rows["ada"].status) == (30, "graded")
    assert (rows["no-notebook"].status, rows["no-notebook"].reason) == ("missing", "no notebook in no-notebook/01_tokenization/")
    assert rows["bad id!"].status == "failed" and "student id" in rows["bad id!"].reason
    logs = tmp_path / "out" / "logs"
    assert (logs / "hal.log").read_text().endswith("stopped after 45 s\n")
    assert "took" in (logs / "ada.log").read_text().splitlines()[-1]


def test_demonstrations_do_not_run_and_a_test_cell_tagged_demo_still_does(tmp_path):
    """Grading skips the cells the course tags ``demo`` (autograder/demos.py); the tag is the student's to edit, and
    one put on every test cell changes nothing: ben keeps exactly the score he earned."""
    import nbformat

    make_class("01_tokenization", tmp_path / "class")
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    (tmp_path / "class" / "ben").rename(submissions / "ben")
    path = submissions / "ben" / "01_tokenization" / "01_tokenization.ipynb"
    notebook = nbformat.read(path, as_version=4)
    tests = [cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade")]
    for cell in tests:
        cell.metadata["tags"] = ["demo"]
    nbformat.write(notebook, path)

    [row] = grade("01_tokenization", submissions, tmp_path / "out")
    assert (row.score, row.reason) == EXPECTED["01_tokenization"][1]["ben"][::2]
    graded = nbformat.read(tmp_path / "out" / "autograded" / "ben" / "01_tokenization" / "01_tokenization.ipynb",
                           as_version=4)
    graded_tests = [c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded_tests) == len(tests) and all(c.execution_count is not None for c in graded_tests)
    demos = [c for c in graded.cells if "demo" in c.metadata.get("tags", ())]
    assert demos and all(c.execution_count is None for c in demos)


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    from autograder.__main__ import main

    assert main(["grade", "99_nothing", "--submissions", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "assignment: expected one of ['01_tokenization'" in capsys.readouterr().err
    assert main(["grade", "01_tokenization", "--submissions", str(tmp_path / "none"), "--out", str(tmp_path)]) == 2
    assert "submissions: expected a folder" in capsys.readouterr().err
