"""`dlgrade similarity`: copies rank first, independent answers below, the model answer and the stub set apart.

Most tests compare texts directly (compare_exercise is pure); the end-to-end ones grade a small
class with a stand-in for the suites (as test_grade_batch.py does) so that only the similarity
part is real: reading folders, zips and notebooks again, the report and the command.
"""
import importlib.util
import json
import re
import zipfile
from pathlib import Path

import pytest

from autograder import cli
from autograder.grading import task
from autograder.reports import similarity
from autograder.reports.fingerprints import Settings, compare_exercise, marked

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("similarity_class", HERE / "similarity_class.py")
klass = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(klass)

EVERY_PAIR = Settings(threshold=0.001)  # list every pair that shares anything, to see the whole ranking


def pairs_of(result) -> list[tuple[str, str]]:
    return [(p.a, p.b) for p in result.pairs]


def test_copies_rank_first_and_the_independent_pair_below():
    result = compare_exercise("activations", klass.files(), klass.STUB, klass.SOLUTION, EVERY_PAIR)
    ranked = pairs_of(result)
    assert set(ranked[:2]) == {("ana", "cat"), ("ben", "dan")}, ranked
    by_pair = {(p.a, p.b): p for p in result.pairs}
    # Renamed, reordered, recommented: still every fingerprint of their own.
    assert by_pair[("ana", "cat")].score == by_pair[("ben", "dan")].score == 1.0
    independent = by_pair.get(("ana", "ben"))
    assert independent is None or (independent.score < 0.3 and ranked.index(("ana", "ben")) >= 2)
    default = compare_exercise("activations", klass.files(), klass.STUB, klass.SOLUTION)
    assert sorted(pairs_of(default)) == [("ana", "cat"), ("ben", "dan")]


def test_reordering_alone_changes_nothing_and_renaming_alone_changes_nothing():
    ana = klass.fill(klass.ANA)
    files = {"ana": ana, "moved": klass.fill(klass.ANA, order=klass.ORDER),
             "renamed": klass.renamed(ana, klass.ANA_NAMES)}
    result = compare_exercise("activations", files, klass.STUB, None)
    assert {(p.a, p.b): p.score for p in result.pairs} == {
        ("ana", "moved"): 1.0, ("ana", "renamed"): 1.0, ("moved", "renamed"): 1.0}


def test_the_model_answer_is_no_side_of_a_pair_but_students_matching_it_are_listed():
    files = klass.files()
    files["sol2"] = klass.recommented(files["sol"])
    every = compare_exercise("activations", files, klass.STUB, klass.SOLUTION, EVERY_PAIR)
    assert {s for p in every.pairs for s in (p.a, p.b)} <= set(files)
    result = compare_exercise("activations", files, klass.STUB, klass.SOLUTION)
    assert [(m.student, m.share) for m in result.solution] == [("sol", 1.0), ("sol2", 1.0)]
    flagged = [(p.a, p.b) for p in result.pairs if p.both_match_solution]
    assert flagged == [("sol", "sol2")] and len(result.pairs) == 3
    assert compare_exercise("activations", files, klass.STUB, None).solution == []


def test_the_released_stub_is_boilerplate():
    files = klass.files()
    with_stub = compare_exercise("activations", files, klass.STUB, None, EVERY_PAIR)
    assert with_stub.too_little == ["stu", "stv"]
    assert not any("stu" in (p.a, p.b) for p in with_stub.pairs)
    # Without the stub, two untouched stubs are a perfect "copy", and the docstrings' code counts.
    without = compare_exercise("activations", files, None, None, EVERY_PAIR)
    assert ("stu", "stv") in pairs_of(without) and without.pairs[0].score == 1.0


def test_idiom_common_to_most_of_a_large_class_is_no_evidence():
    ben_like = klass.fill(klass.BEN)
    files = {f"s{i:02d}": klass.renamed(ben_like, {"grad": f"g{i}", "sig": f"q{i}"}) for i in range(10)}
    files.update(ana=klass.fill(klass.ANA), cat=klass.renamed(klass.fill(klass.ANA), klass.ANA_NAMES))
    result = compare_exercise("activations", files, klass.STUB, None)
    assert pairs_of(result) == [("ana", "cat")]
    assert result.common > 0
    small = compare_exercise("activations", dict(list(files.items())[:3]), klass.STUB, None)
    assert small.common == 0 and len(small.pairs) == 3  # under ten files nothing is "common"


def test_side_by_side_marks_the_matching_code_in_both_files():
    result = compare_exercise("activations", klass.files(), klass.STUB, klass.SOLUTION, EVERY_PAIR)
    view = result.views[("ana", "cat")]
    assert "<mark>" in view.left and "<mark>" in view.right
    assert "np.empty_like" in re.sub(r"</?mark>", "", view.left)
    marked_left = "".join(re.findall(r"<mark>(.*?)</mark>", view.left, re.S))
    assert "out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))" in marked_left
    assert "raise NotImplementedError" not in marked_left


def test_marked_escapes_and_merges_overlapping_spans():
    assert marked("a<b>cdef", [(1, 4), (3, 6)]) == "a<mark>&lt;b&gt;cd</mark>ef"
    assert marked("x&y", []) == "x&amp;y"


# --- end to end: a graded class, read again from folders, zips and notebooks ----------------------------

def fake_suites(submission, exercises, *, hidden, sandbox, course, timeout, env):
    """One passing test per exercise (the similarity report does not read scores)."""
    from autograder.grading.reuse import round_exercises, rounds_of

    views = env.get("DLGRADE_ISOLATE") == "views"
    tests, rounds = [], []
    for k, folder in enumerate(rounds_of(Path(submission)) if views else [Path(submission)]):
        for ex in exercises:
            if views and ex not in round_exercises(folder):
                continue
            tests.append({"name": f"{ex}: t", "score": 1.0, "max_score": 1.0, "status": "passed", "output": "",
                          "visibility": "visible", "tags": [ex, "hidden"],
                          "extra_data": {"test_id": f"{ex}::hidden::t", "details": "", "hint": "",
                                         "grader_error": False, "data": {}}})
            rounds.append(k)
    return {"tests": tests, "sandboxed": False, "rounds": rounds}


def notebook(cells: list[str]) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                                  "execution_count": None, "id": f"c{i}"} for i, c in enumerate(cells)],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


HOSTILE = "<b onclick=alert(1)>x"  # a folder name cannot hold "/"


@pytest.fixture
def graded(tmp_path, monkeypatch, capsys):
    """The class as submissions (cat as a .zip, dan's file as a notebook), graded with --similarity."""
    monkeypatch.setattr(task, "run_suites", fake_suites)
    subs = tmp_path / "subs"
    files = klass.files()
    for student, text in files.items():
        if student == "cat":
            with zipfile.ZipFile(subs.parent / "cat.zip", "w") as zf:
                zf.writestr("cat/activations.py", text)
            continue
        (subs / student).mkdir(parents=True)
        if student == "dan":
            (subs / student / "activations.ipynb").write_text(notebook([text]))
        else:
            (subs / student / "activations.py").write_text(text)
    (subs.parent / "cat.zip").rename(subs / "cat.zip")
    (subs / HOSTILE).mkdir()
    (subs / HOSTILE / "activations.py").write_text(files["ana"])
    out = tmp_path / "out"
    status = cli.main(["grade", str(subs), "--out", str(out), "--only", "activations", "--jobs", "1",
                       "--unsafe-no-sandbox", "--no-report", "--similarity"])
    assert status == 0
    assert "Similarity: " in capsys.readouterr().out
    return subs, out


def test_grade_with_similarity_writes_the_staff_report(graded):
    subs, out = graded
    html = (out / "similarity.html").read_text()
    report = similarity.build(out, exercises=["activations"])
    top = {(p.a, p.b) for p in report.exercises[0].pairs if p.score == 1.0}
    assert top == {("ana", "cat"), ("ben", "dan"), (HOSTILE, "ana"), (HOSTILE, "cat")}, top
    assert report.problems == {}
    assert [m.student for m in report.exercises[0].solution] == ["sol"]
    assert "reason to look, not a verdict" in html and "course staff only" in html
    assert HOSTILE not in html and "&lt;b onclick=alert(1)&gt;x" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "self-contained: no external links"
    json.dumps(report.to_dict())  # serialisable


def test_similarity_command_rereads_changed_and_missing_entries(graded, capsys):
    subs, out = graded
    (subs / "ana" / "activations.py").write_text(klass.fill(klass.BEN))
    (subs / "sol" / "activations.py").unlink()
    (subs / "sol").rmdir()
    status = cli.main(["similarity", str(out)])
    captured = capsys.readouterr()
    assert status == 0
    assert "ana: changed since it was graded: compared as it is now" in captured.err
    assert "sol: no entry for this student" in captured.err
    report = similarity.build(out, exercises=["activations"])
    assert ("ana", "ben") in pairs_of(report.exercises[0])  # ana's file as it is now
    assert "activations" in captured.out and "similarity.html" in captured.out


def test_submissions_option_overrides_the_recorded_folder(graded, tmp_path):
    subs, out = graded
    moved = tmp_path / "moved"
    subs.rename(moved)
    report = similarity.build(out, exercises=["activations"])
    assert set(report.problems) == set(klass.files()) | {HOSTILE}
    report = similarity.build(out, submissions=moved, exercises=["activations"])
    assert report.problems == {} and len(report.exercises[0].pairs) >= 2


@pytest.mark.parametrize("setup, argv, message", [
    ("none", [], "does not exist; grade first"),
    ("empty", [], "no results files"),
    ("no-folder", [], "do not record where the submissions are"),
    ("no-folder", ["--submissions", "/nonexistent/subs"], "is not a folder of submissions"),
    ("no-folder", ["--threshold", "0"], "--threshold 0"),
    ("no-folder", ["--only", "nonsense"], "unknown exercise 'nonsense'"),
])
def test_bad_input_is_explained(tmp_path, capsys, setup, argv, message):
    out = tmp_path / "out"
    if setup != "none":
        (out / "results").mkdir(parents=True)
    if setup == "no-folder":
        (out / "results" / "ana.json").write_text(json.dumps({"tests": [], "extra_data": {}}))
    assert cli.main(["similarity", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (out / "similarity.html").exists()


def test_student_feedback_never_links_the_similarity_report(graded):
    subs, out = graded
    from autograder.reports import report

    report.write_reports(out)
    for path in (out / "feedback").iterdir():
        assert "similarity" not in path.read_text()
