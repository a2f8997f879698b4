"""The course folder: found from the current folder as git finds its root, said, and written into by release."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.course import coursedir
from autograder.course import vectors
from autograder.course.release import VECTOR_RTOL, main

ROOT = Path(__file__).resolve().parents[2]


def course_copy(dest: Path) -> Path:
    """A second checkout of the course: its own course.toml, solutions/, exercises/ and grader files."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("solutions", "exercises", "autograder"):
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    shutil.copy2(ROOT / "course.toml", dest / "course.toml")
    return dest


def scaled(value, factor):
    """value with every number in it (arrays in tuples included) multiplied by factor."""
    return tuple(scaled(v, factor) for v in value) if isinstance(value, tuple) else value * factor


def test_the_nearest_course_toml_upwards_is_the_course_folder(tmp_path, monkeypatch):
    monkeypatch.delenv(coursedir.ENV, raising=False)
    (tmp_path / "outer").mkdir()
    (tmp_path / "outer" / "course.toml").write_text("")
    inner = tmp_path / "outer" / "inner"
    (inner / "deep" / "er").mkdir(parents=True)
    (inner / "course.toml").write_text("")
    found = coursedir.find(start=inner / "deep" / "er")
    assert found.root == inner.resolve() and "nearest course.toml" in found.describe()
    assert coursedir.find(tmp_path / "outer", start=inner).root == (tmp_path / "outer").resolve()
    monkeypatch.setenv(coursedir.ENV, str(tmp_path / "outer"))
    assert coursedir.find(start=inner).how == f"from ${coursedir.ENV}"
    assert coursedir.find(inner, start=inner).how == "from --course-dir"  # the command line first


def test_a_bad_course_folder_says_where_it_came_from_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(coursedir.ENV, raising=False)
    with pytest.raises(coursedir.CourseDirError, match=r"--course-dir .*absent: no such folder"):
        coursedir.find(tmp_path / "absent", start=tmp_path)
    with pytest.raises(coursedir.CourseDirError, match=r"--course-dir .*: there is no course.toml in it"):
        coursedir.find(tmp_path, start=tmp_path)
    monkeypatch.setenv(coursedir.ENV, str(tmp_path))
    with pytest.raises(coursedir.CourseDirError, match=rf"\${coursedir.ENV} .*: there is no course.toml in it"):
        coursedir.find(start=tmp_path)
    monkeypatch.delenv(coursedir.ENV)
    with pytest.raises(coursedir.CourseDirError, match="no course.toml in .* or any folder above it.*--course-dir"):
        coursedir.find(start=tmp_path, fallback=False)


def test_release_in_a_second_checkout_writes_there_and_says_so(tmp_path):
    clone = course_copy(tmp_path / "clone")
    solution = clone / "solutions" / "activations.py"
    solution.write_text(solution.read_text().replace("Logistic sigmoid", "The logistic sigmoid"))
    ours = {p: p.stat().st_mtime_ns for p in [*(ROOT / "exercises").glob("*"), *(ROOT / "dist").glob("*")]}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the first checkout's grader, as from a shared venv
    env.pop(coursedir.ENV, None)
    done = subprocess.run([sys.executable, "-m", "autograder", "release"], cwd=clone / "solutions", env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"course folder: {clone.resolve()} (the nearest course.toml" in done.stdout
    assert "the grader running is" in done.stdout  # another checkout's code runs: said too
    assert "The logistic sigmoid" in (clone / "exercises" / "activations.py").read_text()
    assert (clone / "dist" / "student.zip").is_file()
    assert {p: p.stat().st_mtime_ns for p in ours} == ours  # nothing of the first checkout was touched
    assert "The logistic sigmoid" not in (ROOT / "exercises" / "activations.py").read_text()


def test_release_outside_any_course_refuses(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(coursedir.ENV, None)
    done = subprocess.run([sys.executable, "-m", "autograder", "release"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "no course.toml in" in done.stderr and "--course-dir" in done.stderr


def test_releasing_a_course_in_sync_rewrites_no_vector_file(tmp_path, capsys):
    clone = course_copy(tmp_path / "clone")
    data = clone / "autograder" / "suites" / "public" / "data"
    # Another machine's BLAS: the last bits of every recorded output differ, within VECTOR_RTOL.
    cases = vectors.recorded("conv", data)
    for c in cases:
        c.expected = scaled(c.expected, 1 + VECTOR_RTOL / 100)
    vectors.dump("conv", cases, data)
    other_blas = (data / "conv.json").read_bytes()
    assert other_blas != (ROOT / "autograder" / "suites" / "public" / "data" / "conv.json").read_bytes()
    # The reference changed for one exercise: beyond the tolerance, that file is recorded again.
    stale = vectors.recorded("losses", data)
    stale[0].expected = stale[0].expected + 1e-3
    vectors.dump("losses", stale, data)
    before = {p.name: p.read_bytes() for p in data.glob("*.json")}
    capsys.readouterr()
    assert main(["--course-dir", str(clone)]) == 0
    out = capsys.readouterr().out
    after = {p.name: p.read_bytes() for p in data.glob("*.json")}
    assert after["conv.json"] == other_blas
    assert after["losses.json"] != before["losses.json"]
    assert {n for n in after if after[n] != before[n]} == {"losses.json"}
    assert "recorded again: losses.json" in out
    assert main(["--course-dir", str(clone), "--check"]) == 0
