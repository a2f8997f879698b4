"""What `dlgrade grade` is given: empty or stray entries, --out inside the submissions, misnamed and
duplicated exercise files, the course folder it runs in, and run summaries whose counts add up."""
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.grading.submissions import find_entries, prepare, strays

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = (ROOT / "solutions" / "activations.py").read_text()


def sandbox_flags() -> list[str]:
    from autograder.sandbox.client import bwrap_available

    return [] if bwrap_available() else ["--unsafe-no-sandbox"]


def grade(subs: Path, out: Path, *extra: str) -> int:
    return main(["grade", str(subs), "--out", str(out), "--only", "activations", *sandbox_flags(), *extra])


# --- refused before anything is graded (exit 2) ------------------------------------------------

def test_an_empty_submissions_folder_is_an_error(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    assert grade(tmp_path / "subs", tmp_path / "out") == 2
    assert "no submissions in" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_folder_of_stray_files_only_is_an_error_naming_them(tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "README.txt").write_text("grade these\n")
    (tmp_path / "subs" / ".DS_Store").write_bytes(b"\0")
    assert grade(tmp_path / "subs", tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "no submissions in" in err and "only README.txt, which cannot be submissions" in err


@pytest.mark.parametrize("where", [".", "out", "nested/deeper"])
def test_out_inside_the_submissions_folder_is_refused(tmp_path, capsys, where):
    subs = tmp_path / "subs"
    (subs / "ana").mkdir(parents=True)
    assert grade(subs, subs / where) == 2
    assert "is inside the submissions folder" in capsys.readouterr().err
    assert sorted(p.name for p in subs.iterdir()) == ["ana"]


# --- entries: what is a submission ------------------------------------------------------------------

def test_stray_files_are_no_students_but_attempts_still_are(tmp_path):
    for name in ("README.txt", "class-list.csv", "notes.pdf", "Thumbs.db", "ana.tar.gz", "bob.py"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "carl").mkdir()
    entries = find_entries(tmp_path)
    assert list(entries) == ["ana.tar", "bob", "carl"]  # a .tar.gz or a lone .py is a student's try: explained
    assert "unsupported submission type" in entries["bob"].problem()
    assert strays(tmp_path) == ["README.txt", "Thumbs.db", "class-list.csv", "notes.pdf"]


# --- exercise files: near-misses, none at all, copies at two levels ------------------------------------

def folder_with(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def prepared(tmp_path: Path, files: dict[str, str]):
    folder_with(tmp_path / "subs" / "ana", files)
    before = sorted(p.name for p in (tmp_path / "subs" / "ana").rglob("*"))
    result = prepare(find_entries(tmp_path / "subs")["ana"], tmp_path / "work")
    assert sorted(p.name for p in (tmp_path / "subs" / "ana").rglob("*")) == before  # the instructor's copy
    return result


def test_a_browsers_copy_suffix_and_capitals_are_graded_as_the_exercise(tmp_path):
    p = prepared(tmp_path, {"activations (1).py": "A = 1\n", "Losses.py": "L = 1\n", "notes.txt": "n"})
    assert (p.folder / "activations.py").read_text() == "A = 1\n" and (p.folder / "losses.py").read_text() == "L = 1\n"
    assert not (p.folder / "activations (1).py").exists() and not (p.folder / "Losses.py").exists()
    assert "graded activations (1).py as activations.py" in p.notes
    assert "graded Losses.py as losses.py" in p.notes


def test_the_latest_download_wins_and_an_exact_name_beats_any_near_miss(tmp_path):
    p = prepared(tmp_path, {"activations (1).py": "old\n", "Activations (2).py": "new\n",
                            "losses.py": "exact\n", "Losses (1).py": "near\n"})
    assert (p.folder / "activations.py").read_text() == "new\n"
    assert (p.folder / "losses.py").read_text() == "exact\n"
    assert p.notes == ["graded Activations (2).py as activations.py (not activations (1).py: the highest copy "
                       "number is the latest)"]


def test_a_submission_without_exercise_files_says_what_it_holds_and_what_was_expected(tmp_path):
    p = prepared(tmp_path, {"README.md": "r", "code/helpers.py": "h", "activation.py": "typo"})
    [note] = p.notes
    assert note.startswith("no exercise files found in the submission: it holds README.md, activation.py, "
                           "code/helpers.py; expected files named activations.py, perceptron.py, losses.py")


def test_copies_at_two_folder_levels_say_which_was_graded(tmp_path):
    p = prepared(tmp_path, {"activations.py": "top\n", "old/activations.py": "old\n", "old/Losses (1).py": "x\n"})
    assert p.notes == ["graded activations.py at the top of the submission, not old/activations.py"]
    assert (p.folder / "activations.py").read_text() == "top\n"


def test_near_misses_in_a_zip_are_graded_too(tmp_path):
    (tmp_path / "subs").mkdir()
    with zipfile.ZipFile(tmp_path / "subs" / "ana.zip", "w") as zf:
        zf.writestr("ana/ACTIVATIONS (3).py", "A = 3\n")
    (tmp_path / "work").mkdir()
    p = prepare(find_entries(tmp_path / "subs")["ana"], tmp_path / "work")
    assert (p.folder / "activations.py").read_text() == "A = 3\n"
    assert p.notes == ["graded ACTIVATIONS (3).py as activations.py"]


# --- one real run: the course folder, strays, near-misses in the feedback, counts that add up -----------

@pytest.fixture(scope="module")
def course_run(tmp_path_factory):
    """A course folder (its own course.toml: 4 points for activations) with a class of two and a README,
    graded from a subfolder of the course, then again with --resume."""
    course = tmp_path_factory.mktemp("course")
    (course / "course.toml").write_text("[grading]\nmax_examples = 3\n\n[exercises.activations]\npoints = 4\n")
    subs = course / "subs"
    folder_with(subs / "ana", {"activations (1).py": SOLUTION})
    (subs / "bob.zip").write_bytes(b"PK\x03\x04 not a zip")
    (subs / "README.txt").write_text("the class of 2026\n")
    (course / "notes").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's grader, run from another folder
    env.pop("DLGRADE_COURSE_DIR", None)
    env.pop("DLGRADE_COURSE", None)
    command = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(course / "out"),
               "--only", "activations", *sandbox_flags()]
    runs = [subprocess.run(command + extra, cwd=course / "notes", env=env, capture_output=True, text=True,
                           timeout=600) for extra in ([], ["--resume"])]
    return course, runs


def test_grade_uses_and_names_the_course_folder_it_runs_in(course_run):
    course, (first, _) = course_run
    assert first.returncode == 1, first.stderr  # bob could not be graded
    assert f"course folder: {course.resolve()} (the nearest course.toml" in first.stdout
    assert f"course.toml: {course.resolve() / 'course.toml'}" in first.stdout
    rows = dict(line.split(",", 1) for line in (course / "out" / "grades.csv").read_text().splitlines()[1:])
    assert rows == {"ana": "4.00,0.00,4.00,4.00", "bob": ",,,4.00"}  # the course folder's points; no README student


def test_stray_files_are_skipped_with_a_note_and_the_counts_add_up(course_run):
    course, (first, again) = course_run
    assert not (course / "out" / "results" / "README.json").exists()
    note = "Skipped 1 file(s) that cannot be submissions (a submission is a folder, a .zip or a .ipynb): README.txt"
    assert note in first.stdout and note in again.stdout
    assert re.search(r"^2 submission\(s\) in .*: 1 graded now, 0 unchanged since the last run \(--resume\), "
                     r"1 could not be graded\.$", first.stdout, re.MULTILINE), first.stdout
    assert re.search(r"^2 submission\(s\) in .*: 0 graded now, 1 unchanged since the last run \(--resume\), "
                     r"1 could not be graded\.$", again.stdout, re.MULTILINE), again.stdout


def test_a_near_miss_is_graded_and_said_in_the_feedback(course_run):
    course, _ = course_run
    html = (course / "out" / "feedback" / "ana.html").read_text()
    md = (course / "out" / "feedback" / "ana.md").read_text()
    assert "graded activations (1).py as activations.py" in html and "graded activations (1).py as" in md
