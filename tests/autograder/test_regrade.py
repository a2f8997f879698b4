"""`dlgrade regrade-preview`: who moves after a weight, a tolerance or a test changes, and which tests say why.

The comparison (scorediff.compare) is a pure function over two gradings' results; these are
made here by the grading plugin's own scorer (weights shared into points) from pass/fail lists,
so each case states exactly who should move and why. test_regrade_e2e.py runs the real command.
"""
import json
import re
from pathlib import Path

import pytest

from autograder import cli
from autograder.course import config
from autograder.grading import scorediff
from autograder.suites.plugin import score
from autograder.grading.results import SubmissionResult
from autograder.grading.results import TestResult as Result  # pytest would collect a Test* name

TESTS = ["t1", "t2", "t3", "t4"]


def graded(student: str, fails: set[str], *, tests=TESTS, weights=None, points=10.0, late=0.0,
           could_not_grade="", exercise="activations") -> dict:
    """One student's results dict as `dlgrade grade` writes it: `fails` fail, the other tests pass."""
    course = config.parse({"exercises": {exercise: {"points": points, "weights": weights or {}}}})
    results = [Result(exercise, f"{exercise}::hidden::{t}", f"{exercise}: {t}", True, t not in fails, max_score=1.0)
               for t in tests]  # max_score: the marker's weight, until scored
    data = SubmissionResult(student, score(results, course), could_not_grade=could_not_grade).to_dict()
    data["extra_data"]["late"] = {"fraction": late}
    return data


def klass(fails: dict[str, set[str]], **kw) -> dict[str, dict]:
    return {s: graded(s, f, **kw) for s, f in fails.items()}


OLD = {"ana": set(), "bob": {"t2"}, "cal": {"t3"}, "dan": set()}


def causes(preview) -> dict[str, set[tuple[str, str]]]:
    """student -> {(test function, why)} over all their exercises."""
    return {m.student: {(c.test_id.rsplit("::", 1)[1], c.why) for e in m.exercises for c in e.causes}
            for m in preview.moved}


def test_nothing_changed_nobody_moves():
    preview = scorediff.compare(klass(OLD), klass(OLD))
    assert (preview.moved, preview.unchanged, preview.tests) == ([], 4, [])
    assert not preview.anything_moved


def test_a_weight_moves_exactly_the_students_who_fail_a_test_of_that_exercise():
    preview = scorediff.compare(klass(OLD), klass(OLD, weights={"t2": 3}))
    assert causes(preview) == {"bob": {("t2", "weight changed")}, "cal": {("t2", "weight changed")}}
    bob = next(m for m in preview.moved if m.student == "bob")
    # 10 points over weights 1+3+1+1: bob loses t2's 5 points instead of 2.5.
    assert (bob.old_total, round(bob.new_total, 4), round(bob.delta, 4)) == (7.5, 5.0, -2.5)
    assert preview.unchanged == 2
    assert [(t.test_id, t.why, t.students) for t in preview.tests] == [
        ("activations::hidden::t2", "weight changed", ["bob", "cal"])]


def test_a_tolerance_moves_exactly_the_students_whose_results_flip():
    new = {**OLD, "dan": {"t4"}, "cal": set()}  # dan's answer is outside the tighter tolerance; cal's inside the looser
    preview = scorediff.compare(klass(OLD), klass(new))
    assert causes(preview) == {"dan": {("t4", "now fails")}, "cal": {("t3", "now passes")}}
    assert [m.student for m in preview.moved] == ["cal", "dan"]  # same size of move: by name
    assert preview.unchanged == 2


def test_an_added_test_names_those_who_fail_it_and_those_whose_share_moves():
    new = klass({**OLD, "dan": {"t5"}}, tests=TESTS + ["t5"])
    preview = scorediff.compare(klass(OLD), new)
    # ana passes everything: 10 -> 10. bob and cal pass t5 but failed another test in both: 7.5 -> 8.
    assert causes(preview) == {"dan": {("t5", "added, failed")}, "bob": {("t5", "added, passed")},
                               "cal": {("t5", "added, passed")}}
    dan = next(m for m in preview.moved if m.student == "dan")
    assert dan.exercises[0].causes[0].passed is False and round(dan.new_total, 2) == 8.0
    assert next(m for m in preview.moved if m.student == "bob").exercises[0].causes[0].passed is True
    assert preview.unchanged == 1


def test_weight_tolerance_and_added_test_together_name_each_cause_once():
    new = klass({**OLD, "dan": {"t4"}, "eve": {"t5"}}, tests=TESTS + ["t5"], weights={"t2": 3})
    old = klass({**OLD, "eve": set()})
    preview = scorediff.compare(old, new)
    assert causes(preview) == {
        "bob": {("t2", "weight changed"), ("t5", "added, passed")},  # failed t2 both times
        "cal": {("t2", "weight changed"), ("t5", "added, passed")},  # failed t3 both times
        "dan": {("t4", "now fails")},
        "eve": {("t5", "added, failed")},
    }
    assert preview.unchanged == 1  # ana


def test_removed_test_points_late_penalty_and_grading_status():
    old = {"ana": graded("ana", {"t4"}), "bob": graded("bob", set()), "cal": graded("cal", set()),
           "dan": graded("dan", set()), "gone": graded("gone", set())}
    new = {"ana": graded("ana", set(), tests=TESTS[:3]),
           "bob": graded("bob", set(), points=12),
           "cal": graded("cal", set(), late=0.1),
           "dan": graded("dan", set(), could_not_grade="the grader failed: boom\nmore"),
           "new": graded("new", set())}
    preview = scorediff.compare(old, new)
    moved = {m.student: m for m in preview.moved}
    assert set(moved) == {"ana", "bob", "cal", "dan", "gone", "new"}
    assert causes(preview)["ana"] == {("t4", "removed, failed before")}
    assert moved["bob"].exercises[0].note == "exercise worth 10.00 -> 12.00 points"
    assert [e.exercise for e in moved["cal"].exercises] == ["late penalty"] and moved["cal"].delta == -1.0
    assert moved["dan"].status == "could not be graded now: the grader failed: boom" and moved["dan"].new_total is None
    assert moved["gone"].status.startswith("gone") and moved["new"].status.startswith("new")
    assert {(t.test_id, t.why): t.students for t in preview.tests} == {
        ("activations::hidden::t4", "removed, failed before"): ["ana"],
        ("activations", "exercise worth 10.00 -> 12.00 points"): ["bob"],
        ("late penalty", "late penalty changed (the late policy or the deadline)"): ["cal"]}


def test_a_move_below_a_cent_is_no_move():
    old = klass({"ana": {"t1"}})
    new = json.loads(json.dumps(old))
    new["ana"]["tests"][1]["score"] += 0.001
    assert scorediff.compare(old, new).unchanged == 1


# --- the command, comparing folders already graded (--compare) -----------------------------------------

def write_out(out: Path, results: dict[str, dict]) -> Path:
    (out / "results").mkdir(parents=True)
    for s, r in results.items():
        (out / "results" / f"{s}.json").write_text(json.dumps(r))
    return out


def test_command_table_html_and_exit_status(tmp_path, capsys):
    hostile = "<b onclick=x>"
    old = write_out(tmp_path / "old", klass({**OLD, hostile: {"t1"}}))
    same = write_out(tmp_path / "same", klass({**OLD, hostile: {"t1"}}))
    assert cli.main(["regrade-preview", str(old), "--compare", str(same)]) == 0
    assert "0 of 5 student(s) move; 5 unchanged" in capsys.readouterr().out
    new = write_out(tmp_path / "new", klass({**OLD, hostile: {"t1"}}, weights={"t2": 3}))
    assert cli.main(["regrade-preview", str(old), "--compare", str(new)]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^bob\s+activations\s+7\.50\s+5\.00\s+-2\.50\s+hidden::t2 \(weight changed\)$", out, re.M), out
    assert re.search(r"^\s+total\s+7\.50\s+5\.00\s+-2\.50", out, re.M)
    assert "ana" not in out.split("Tests behind")[0].split("because")[1]
    html = (new / "regrade-preview.html").read_text()
    assert "weight changed" in html and "&lt;b onclick=x&gt;" in html and hostile not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


@pytest.mark.parametrize("setup, extra, message", [
    ("none", [], "does not exist"),
    ("empty", [], "no results files"),
    ("broken", [], "cannot be read"),
    ("graded", ["--out", "{old}"], "must not be OLD_OUT"),
    ("graded", ["--out", "{foreign}"], "was not made by regrade-preview"),
    ("graded", [], "record no submissions folder; give it with --submissions"),
    ("graded", ["--submissions", "{old}/nowhere"], "is not a folder of submissions"),
    ("graded", ["--jobs", "0"], "--jobs must be at least 1"),
    ("graded", ["--compare", "{foreign}"], "does not exist"),
])
def test_bad_usage_is_explained(tmp_path, capsys, setup, extra, message):
    old = tmp_path / "old"
    if setup != "none":
        (old / "results").mkdir(parents=True)
    if setup == "broken":
        (old / "results" / "ana.json").write_text("{not json")
    if setup == "graded":
        (old / "results" / "ana.json").write_text(json.dumps(graded("ana", set())))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep me")
    argv = [a.format(old=old, foreign=foreign) for a in extra]
    assert cli.main(["regrade-preview", str(old), *argv]) == 2
    assert message in capsys.readouterr().err
    assert (foreign / "mine.txt").read_text() == "keep me"
