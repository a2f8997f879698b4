"""Bulk grading logic with a stand-in for the suites: resume keys, failures, exit codes, grades.csv, gradebook.db.

The real suites are exercised in test_grade_bulk.py; here `run_suites` is replaced by a fast,
predictable fake so that every path of the batch can be checked in milliseconds.
"""
import argparse
import csv
import functools
import io
import json
import shutil
import subprocess
import sys
import threading
import types
import zipfile
from pathlib import Path

import pytest

from autograder.grading import batch, grade, options, task
from autograder.grading import pool
from autograder.grading.reuse import round_exercises, rounds_of
from autograder.grading.pool import worker_uid
from autograder.grading.progress import Progress

EXERCISES = ["activations", "losses"]


class FakeSuites:
    """Two tests per exercise (public 4 points, hidden 6): passed when the file says 'good'."""

    def __init__(self):
        self.calls: list[Path] = []
        self.envs: list[dict] = []
        self.graded: list[tuple[str, str]] = []  # (exercise, file text) of every view graded
        self.lock = threading.Lock()

    def __call__(self, submission, exercises, *, hidden, sandbox, course, timeout, env):
        views = env.get("DLGRADE_ISOLATE") == "views"  # rounds of a folder per exercise, as the plugin reads them
        with self.lock:
            self.calls.append(Path(submission))
            self.envs.append(dict(env))
        tests, rounds = [], []
        folders = rounds_of(Path(submission)) if views else [Path(submission)]
        for k, folder in enumerate(folders):
            for ex in exercises:
                if views and ex not in round_exercises(folder):
                    continue
                path = folder / ex / f"{ex}.py" if views else folder / f"{ex}.py"
                text = path.read_text() if path.exists() else ""
                with self.lock:
                    self.graded.append((ex, text))
                if "BREAK_GRADER" in text:
                    raise RuntimeError("the grader tripped over something new")
                for fn, kind, top in (("test_public", "public", 4.0), ("test_hidden", "hidden", 6.0)):
                    ok = "good" in text and not (kind == "hidden" and "half" in text)
                    tests.append({"name": f"{ex}: {fn}", "score": top if ok else 0.0, "max_score": top,
                                  "status": "passed" if ok else "failed", "output": "", "visibility": "visible",
                                  "tags": [ex, kind], "extra_data": {"test_id": f"{ex}::{kind}::{fn}", "details": "",
                                                                     "hint": "", "grader_error": False, "data": {}}})
                    rounds.append(k)
        return {"tests": tests, "sandboxed": False, "rounds": rounds}


@pytest.fixture
def fake(monkeypatch):
    suites = FakeSuites()
    monkeypatch.setattr(task, "run_suites", suites)
    return suites


@pytest.fixture
def klass(tmp_path):
    """A small class: two good, one half, one empty folder, one zip, one broken zip, one grader breaker."""
    subs = tmp_path / "subs"
    subs.mkdir()
    for student, text in (("ana", "good"), ("bob", "good half"), ("dan", "BREAK_GRADER")):
        (subs / student).mkdir()
        for ex in EXERCISES:
            (subs / student / f"{ex}.py").write_text(text)
    (subs / "carl").mkdir()
    with zipfile.ZipFile(subs / "eve.zip", "w") as zf:
        zf.writestr("eve/activations.py", "good")
    (subs / "fay.zip").write_bytes(b"PK\x03\x04 truncated")
    return subs


def args_for(subs: Path, out: Path, **kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    ns = parser.parse_args([str(subs), "--out", str(out), "--only", ",".join(EXERCISES), "--jobs", "2",
                            "--unsafe-no-sandbox"])
    for k, v in kw.items():
        setattr(ns, k, v)
    return ns


no_reuse_args = args_for


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_batch_grades_everyone_and_reports_failures(fake, klass, tmp_path, capsys):
    out = tmp_path / "out"
    status = grade.run(args_for(klass, out))
    captured = capsys.readouterr()
    assert status == 1, "some submissions could not be graded"
    for student, why in (("dan", "the grader failed: RuntimeError"), ("fay", "fay.zip is not a readable zip")):
        assert f"could not grade {student}: {why}" in captured.err
        assert why in json.loads((out / "results" / f"{student}.json").read_text())["extra_data"]["could_not_grade"]
    rows = {r["student"]: r for r in read_csv(out / "grades.csv")}
    assert list(rows) == ["ana", "bob", "carl", "dan", "eve", "fay"]
    assert rows["ana"] == {"student": "ana", "activations": "10.00", "losses": "10.00", "late_penalty": "0.00",
                           "total": "20.00", "max_total": "20.00"}
    assert (rows["bob"]["activations"], rows["bob"]["total"]) == ("4.00", "8.00")
    assert rows["carl"]["total"] == "0.00"  # an empty folder is graded: not submitted, zero
    assert rows["eve"]["activations"] == "10.00" and rows["eve"]["losses"] == "0.00"
    assert rows["dan"]["total"] == rows["fay"]["total"] == ""  # never a zero that looks like a grade
    carl = json.loads((out / "results" / "carl.json").read_text())
    assert "no exercise files found" in carl["output"]
    assert "Could not grade:" in captured.out and "activations" in captured.out
    # Each parallel slot ran its sandboxes under its own uid.
    uids = {int(e["DLGRADE_WORKER_UID"]) for e in fake.envs}
    assert uids and all(60000 <= u < 61000 for u in uids)


def test_all_graded_exits_zero(fake, tmp_path):
    subs = tmp_path / "subs"
    (subs / "ana").mkdir(parents=True)
    (subs / "ana" / "activations.py").write_text("good")
    assert grade.run(args_for(subs, tmp_path / "out")) == 0


def test_resume_grades_only_what_changed(fake, klass, tmp_path):
    out = tmp_path / "out"
    args_for = functools.partial(no_reuse_args, no_reuse=True)  # counts whole submissions graded
    grade.run(args_for(klass, out))
    first_csv = (out / "grades.csv").read_bytes()
    ana_json = (out / "results" / "ana.json").read_bytes()
    graded_first = len(fake.calls)
    assert graded_first == 5  # all but the broken zip

    fake.calls.clear()
    grade.run(args_for(klass, out, resume=True))
    # Only the one the grader failed on is tried again; nothing else changed.
    assert [p.name for p in fake.calls] == ["dan"]
    assert (out / "grades.csv").read_bytes() == first_csv
    assert (out / "results" / "ana.json").read_bytes() == ana_json

    fake.calls.clear()
    (klass / "bob" / "losses.py").write_text("good")
    grade.run(args_for(klass, out, resume=True))
    assert sorted(p.name for p in fake.calls) == ["bob", "dan"]
    assert {r["student"]: r["losses"] for r in read_csv(out / "grades.csv")}["bob"] == "10.00"

    fake.calls.clear()
    grade.run(args_for(klass, out, resume=True, only="activations"))
    assert len(fake.calls) == 5, "other exercises: everything is graded again"

    fake.calls.clear()
    grade.run(args_for(klass, out))
    assert len(fake.calls) == 5, "without --resume everything is graded again"


def test_resume_regrades_when_course_toml_changes(fake, klass, tmp_path):
    out = tmp_path / "out"
    args_for = functools.partial(no_reuse_args, no_reuse=True)
    course = tmp_path / "course.toml"
    course.write_text("[exercises.activations]\npoints = 10\n")
    grade.run(args_for(klass, out, course=str(course)))
    fake.calls.clear()
    course.write_text("# a comment changes nothing\n[exercises.activations]\npoints = 10\n")
    grade.run(args_for(klass, out, course=str(course), resume=True))
    assert [p.name for p in fake.calls] == ["dan"]
    fake.calls.clear()
    course.write_text("[exercises.activations]\npoints = 20\n")
    grade.run(args_for(klass, out, course=str(course), resume=True))
    assert len(fake.calls) == 5


def test_resume_regrades_when_the_grader_changes(fake, klass, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args_for = functools.partial(no_reuse_args, no_reuse=True)
    grade.run(args_for(klass, out))
    fake.calls.clear()
    monkeypatch.setattr(options, "grader_version", lambda: "9.9.9+other")
    grade.run(args_for(klass, out, resume=True))
    assert len(fake.calls) == 5


def test_late_penalty_in_grades_and_results(fake, tmp_path):
    subs = tmp_path / "subs"
    for student, stamp in (("ana", "2026-03-01 10:00:00.000000 UTC"), ("bob", "2026-03-03 10:00:00.000000 UTC")):
        (subs / student).mkdir(parents=True)
        (subs / student / "activations.py").write_text("good")
        (subs / student / "losses.py").write_text("good half")
        (subs / student / "timestamp.txt").write_text(stamp)
    course = tmp_path / "course.toml"
    course.write_text('[grading]\nlate_policy = "per_day"\nlate_percent_per_day = 25\n'
                      'deadline = "2026-03-01T12:00:00+00:00"\n')
    out = tmp_path / "out"
    assert grade.run(args_for(subs, out, course=str(course))) == 0
    rows = {r["student"]: r for r in read_csv(out / "grades.csv")}
    assert (rows["ana"]["late_penalty"], rows["ana"]["total"]) == ("0.00", "14.00")
    # bob: 46 hours late = 2 started days = 50 % of 14 points.
    assert (rows["bob"]["late_penalty"], rows["bob"]["total"]) == ("7.00", "7.00")
    late = json.loads((out / "results" / "bob.json").read_text())["extra_data"]["late"]
    assert late["days_late"] == 2 and late["fraction"] == 0.5


def test_gradebook_holds_the_same_totals_as_grades_csv(fake, klass, tmp_path):
    from nbgrader.api import Gradebook, MissingEntry

    out = tmp_path / "out"
    grade.run(args_for(klass, out))
    rows = {r["student"]: r for r in read_csv(out / "grades.csv")}
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assignment = gb.find_assignment("dlgrade")
        assert sorted(nb.name for nb in assignment.notebooks) == EXERCISES
        cells = {c.name: c.max_score for c in gb.find_notebook("activations", "dlgrade").grade_cells}
        assert cells == {"public:test_public": 4.0, "hidden:test_hidden": 6.0}
        assert sorted(s.id for s in gb.students) == sorted(rows)
        for student, row in rows.items():
            if row["total"] == "":
                with pytest.raises(MissingEntry):
                    gb.find_submission("dlgrade", student)
                continue
            sub = gb.find_submission("dlgrade", student)
            assert sub.score - sub.late_submission_penalty == pytest.approx(float(row["total"]), abs=0.005)
            assert sub.max_score == pytest.approx(float(row["max_total"]))
            assert not sub.needs_manual_grade  # every cell has its auto score, as nbgrader's autograde leaves it
            for ex in EXERCISES:
                nb = gb.find_submission_notebook(ex, "dlgrade", student)
                assert nb.score == pytest.approx(float(row[ex]), abs=0.005)


def test_nbgrader_export_sees_the_grades(fake, klass, tmp_path):
    out = tmp_path / "out"
    grade.run(args_for(klass, out))
    nbgrader = Path(sys.executable).with_name("nbgrader")
    if not nbgrader.exists():
        pytest.skip("the nbgrader command is not installed beside this Python")
    export = tmp_path / "export.csv"
    done = subprocess.run([str(nbgrader), "export", f"--CourseDirectory.root={out}", "--to", str(export)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    exported = {r["student_id"]: r for r in csv.DictReader(io.StringIO(export.read_text()))}
    for row in read_csv(out / "grades.csv"):
        e = exported[row["student"]]
        assert e["assignment"] == "dlgrade"
        if row["total"]:
            assert float(e["score"]) == pytest.approx(float(row["total"]), abs=0.005)
            assert float(e["max_score"]) == pytest.approx(float(row["max_total"]))
        else:
            assert e["timestamp"] == ""  # not graded: nbgrader lists the student without a submission


def test_bad_usage_exits_2(fake, klass, tmp_path, capsys):
    out = tmp_path / "out"
    assert grade.run(args_for(klass, out, only="convolution")) == 2
    assert "unknown exercise 'convolution'" in capsys.readouterr().err
    assert grade.run(args_for(tmp_path / "nope", out)) == 2
    assert grade.run(args_for(klass, out, jobs=0)) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('[grading]\ndeadline = "next friday"\n')
    assert grade.run(args_for(klass, out, course=str(bad))) == 2
    assert "deadline" in capsys.readouterr().err
    assert not fake.calls and not out.exists()


def test_stale_temporary_files_of_a_killed_run_are_removed(fake, tmp_path):
    subs = tmp_path / "subs"
    (subs / "ana").mkdir(parents=True)
    (subs / "ana" / "activations.py").write_text("good")
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    (out / "results" / ".ana.json.x1y2.tmp").write_text("{half")
    grade.run(args_for(subs, out))
    assert sorted(p.name for p in (out / "results").iterdir()) == ["ana.json"]


class FakeTty(io.StringIO):
    def isatty(self):
        return True


def test_progress_plain_lines_without_a_terminal():
    stream = io.StringIO()
    p = Progress(3, stream=stream)
    p.finished("ana", "10.00 / 10.00")
    p.skipped("bob", "unchanged")
    p.finished("carl", "could not grade: x", timed=False)
    p.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/3] ana: 10.00 / 10.00 (ETA ")
    assert lines[1].startswith("[2/3] bob: unchanged")
    assert lines[2] == "[3/3] carl: could not grade: x"
    assert "\r" not in stream.getvalue()


def test_progress_bar_on_a_terminal():
    stream = FakeTty()
    p = Progress(4, stream=stream, tick=0.01)
    p.finished("ana", "ok")
    text = stream.getvalue()
    p.close()
    assert "\r\x1b[2Kana: ok\n" in text
    assert "grading [" in text and "1/4" in text and "ETA" in text
    assert stream.getvalue().endswith("\r\x1b[2K")


def test_unreachable_dask_scheduler_is_bad_usage(fake, klass, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr(pool, "DASK_CONNECT_TIMEOUT", 0.5)
    assert grade.run(args_for(klass, tmp_path / "out", dask="tcp://127.0.0.1:9")) == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not fake.calls


def test_cnn_on_gpu_asks_dask_for_a_gpu_worker(klass, tmp_path):
    from autograder.course.config import Course

    def resources(exercises, task, **kw):
        return grade.Batch(args_for(klass, tmp_path, **kw), exercises, Course(), "none", None).resources(task)

    both = ["activations", "cnn"]
    assert resources(both, ["cnn"], device="gpu") == {"GPU": 1}
    assert resources(both, ["activations"], device="gpu") is None  # a numpy task of a class with the CNN
    assert resources(both, ["cnn"], device="cpu") is None
    assert resources(["activations"], ["activations"], device="gpu") is None
    assert resources(both, ["cnn"]) is None


def test_worker_uids_are_distinct_while_leased():
    with worker_uid() as a, worker_uid() as b, worker_uid() as c:
        assert len({a, b, c}) == 3
        assert all(pool.UID_BASE <= u < pool.UID_BASE + pool.UID_SLOTS for u in (a, b, c))
    with worker_uid() as d, worker_uid() as e:
        assert d != e


def test_identical_views_are_graded_once_with_the_same_grades(fake, klass, tmp_path):
    """eve's activations.py is ana's and her missing losses.py is carl's: nothing of eve's is graded again."""
    # Without dan first: a task his file breaks grades each of its students again alone (a later test),
    # so views bundled with his would be graded twice, by design.
    dan = tmp_path / "dan"
    shutil.move(klass / "dan", dan)
    grade.run(args_for(klass, tmp_path / "plain", no_reuse=True))
    fake.graded.clear()
    fake.envs.clear()
    grade.run(args_for(klass, tmp_path / "out"))
    assert (tmp_path / "out" / "grades.csv").read_bytes() == (tmp_path / "plain" / "grades.csv").read_bytes()
    good = list(fake.graded)
    assert sorted(good) == sorted(set(good)), "a distinct view is graded once"
    assert sorted(set(good)) == sorted({("activations", "good"), ("losses", "good"), ("activations", "good half"),
                                        ("losses", "good half"), ("activations", ""), ("losses", "")})
    eve = json.loads((tmp_path / "out" / "results" / "eve.json").read_text())
    assert eve["extra_data"]["reused"] == EXERCISES
    assert all(env.get("DLGRADE_ISOLATE") == "views" for env in fake.envs), "reuse is sound only with isolated views"

    shutil.move(dan, klass / "dan")
    grade.run(args_for(klass, tmp_path / "plain", no_reuse=True))
    fake.graded.clear()
    grade.run(args_for(klass, tmp_path / "out"))  # a regrade reuses every view but the grader breaker's
    assert {text for _, text in fake.graded} == {"BREAK_GRADER"}
    assert (tmp_path / "out" / "grades.csv").read_bytes() == (tmp_path / "plain" / "grades.csv").read_bytes()


def test_the_first_tasks_of_a_run_share_no_exercise(fake, klass, tmp_path, monkeypatch):
    """Nothing is recorded yet (replay.py): each exercise's examples are generated by one of the first tasks only."""
    waves = []
    original = grade.Batch.dispatch

    def dispatch(self, waiting, running, progress, workdir):
        before = set(running)
        left = original(self, waiting, running, progress, workdir)
        started = [task.exercises() for future, task in running.items() if future not in before]
        if started:
            waves.append(started)
        return left

    monkeypatch.setattr(grade.Batch, "dispatch", dispatch)
    grade.run(args_for(klass, tmp_path / "out"))
    assert len(waves[0]) == 2 and not set.intersection(*waves[0])
    assert {e for wave in waves for task in wave for e in task} == set(EXERCISES)
    grade.run(args_for(klass, tmp_path / "plain", no_reuse=True))
    assert (tmp_path / "out" / "grades.csv").read_bytes() == (tmp_path / "plain" / "grades.csv").read_bytes()


def test_a_task_that_fails_for_several_students_is_retried_for_each_alone(fake, klass, tmp_path, capsys):
    """dan's file breaks the grader; whoever shared a task with it is graded again alone and keeps the grade."""
    grade.run(args_for(klass, tmp_path / "plain", no_reuse=True))
    assert grade.run(args_for(klass, tmp_path / "out", jobs=1)) == 1  # one slot: every task bundles students
    assert (tmp_path / "out" / "grades.csv").read_bytes() == (tmp_path / "plain" / "grades.csv").read_bytes()
    dan = json.loads((tmp_path / "out" / "results" / "dan.json").read_text())
    assert "tripped over something new" in dan["extra_data"]["could_not_grade"]
    others = [json.loads(p.read_text()) for p in (tmp_path / "out" / "results").glob("*.json") if p.stem not in ("dan", "fay")]
    assert others and not any(r["extra_data"]["could_not_grade"] for r in others)


def test_a_changed_file_is_graded_again(fake, klass, tmp_path):
    out = tmp_path / "out"
    grade.run(args_for(klass, out))
    fake.graded.clear()
    (klass / "bob" / "losses.py").write_text("good, rewritten")
    grade.run(args_for(klass, out))
    # Only the changed file is graded again (twice when its task is the grader breaker's, which fails
    # the task for all in it: each is then graded alone).
    assert {v for v in fake.graded if v[1] != "BREAK_GRADER"} == {("losses", "good, rewritten")}
    assert {r["student"]: r["losses"] for r in read_csv(out / "grades.csv")}["bob"] == "10.00"


def test_a_file_being_graded_is_waited_for_not_graded_twice(fake, tmp_path):
    subs = tmp_path / "subs"
    for student in ("s1", "s2", "s3", "s4"):
        (subs / student).mkdir(parents=True)
        for ex in EXERCISES:
            (subs / student / f"{ex}.py").write_text("good")
    assert grade.run(args_for(subs, tmp_path / "out")) == 0  # --jobs 2
    assert sorted(fake.graded) == [("activations", "good"), ("losses", "good")]
    assert [r["total"] for r in read_csv(tmp_path / "out" / "grades.csv")] == ["20.00"] * 4


def test_local_slots_fork_their_trusted_sessions_and_dask_tasks_do_not(fake, klass, tmp_path, monkeypatch):
    """grading/trusted_fork.py: a local slot's sessions come from the preloaded server; $DLGRADE_TRUSTED_FORK=0 stops it."""
    from autograder.grading.runner import FORK

    grade.run(args_for(klass, tmp_path / "out"))
    assert fake.envs and all(env.get(FORK) == "1" for env in fake.envs)
    fake.envs.clear()
    monkeypatch.setenv(FORK, "0")
    grade.run(args_for(klass, tmp_path / "off"))
    assert fake.envs and not any(FORK in env for env in fake.envs)
    assert (tmp_path / "off" / "grades.csv").read_bytes() == (tmp_path / "out" / "grades.csv").read_bytes()
    monkeypatch.delenv(FORK)
    dask = grade.Batch.__new__(grade.Batch)
    dask.pool = types.SimpleNamespace(ships_files=True)  # a Dask task may run on another machine
    assert dask.fork_env() == {}


@pytest.mark.parametrize("copies", [1, 2])
def test_near_the_end_a_task_takes_its_share_of_the_views_left(fake, tmp_path, monkeypatch, copies):
    """Nine distinct views left for two slots: no task takes more than five (batch.ROUNDS would allow more),
    whether each is one student's or shared by two (graded once)."""
    subs = tmp_path / "subs"
    for i in range(9 * copies):
        (subs / f"s{i}").mkdir(parents=True)
        (subs / f"s{i}" / "activations.py").write_text(f"good {i % 9}")  # distinct files, or each twice
    args = args_for(subs, tmp_path / "out", only="activations")
    run = grade.Batch(args, ["activations"], grade.load(None), "none", types.SimpleNamespace(ships_files=False))
    recorded = tmp_path / "out" / ".examples" / run.examples_key
    recorded.mkdir(parents=True)
    (recorded / "x.ex").write_bytes(b"")  # examples recorded already: no first wave of one task per exercise
    sizes = []
    original = grade.Batch.dispatch

    def dispatch(self, waiting, running, progress, workdir):
        before = set(running)
        left = original(self, waiting, running, progress, workdir)
        sizes.extend(len(task.views) for future, task in running.items() if future not in before)
        return left

    monkeypatch.setattr(grade.Batch, "dispatch", dispatch)
    monkeypatch.setattr(batch, "PREPARE_FIRST", 10)  # all prepared before the first tasks: their keys are known
    assert batch.ROUNDS > 5
    assert grade.run(args) == 0
    assert sum(sizes) == 9 and max(sizes) <= 5, sizes
    assert sorted(fake.graded) == sorted(set(fake.graded)), "each distinct view graded once"
