"""`dlgrade check`: a student's public checks, with a readable table and feedback."""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.course import coursedir
from autograder.course.config import EXERCISES, NUMPY_EXERCISES
from autograder.grading.results import TestResult
from autograder.grading.runner import GradingFailed, run_suites


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("exercises", nargs="*", metavar="EXERCISE", help=f"any of: {', '.join(EXERCISES)} (default: all numpy exercises)")
    parser.add_argument("--dir", help="directory holding your exercise files (default: the course folder's exercises/)")
    parser.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto", help="run your code in bubblewrap when available (default)")
    parser.add_argument("--course", help="course.toml to use (default: the course folder's)")
    coursedir.add_argument(parser)


def run(args: argparse.Namespace) -> int:
    unknown = [e for e in args.exercises if e not in EXERCISES]
    if unknown:
        print(f"dlgrade check: unknown exercise(s) {', '.join(unknown)}; choose from {', '.join(EXERCISES)}", file=sys.stderr)
        return 2
    try:
        course = coursedir.find(args.course_dir)
    except coursedir.CourseDirError as e:
        print(f"dlgrade check: {e}", file=sys.stderr)
        return 2
    directory = Path(args.dir) if args.dir else course.exercises
    if not directory.is_dir():
        print(f"dlgrade check: {directory} is not a directory; pass --dir with the folder of your exercise files", file=sys.stderr)
        return 2
    print(course.describe())
    from autograder.sandbox.client import bwrap_available

    if args.sandbox == "auto" and not bwrap_available():
        print("note: bubblewrap (bwrap) not found: your code runs unsandboxed on this machine.")
    exercises = args.exercises or list(NUMPY_EXERCISES)
    with tempfile.TemporaryDirectory(prefix="dlgrade-check-") as tmp:
        try:
            checked = with_notebooks(directory, exercises, Path(tmp))
            # DLGRADE_CHECK: an infinite loop is stopped by CPU time and said once per function (plugin.py).
            data = run_suites(checked, exercises, hidden=False, sandbox=args.sandbox,
                              course=coursedir.course_file(args.course, course), env={"DLGRADE_CHECK": "1"})
        except (GradingFailed, ValueError) as e:
            print(f"dlgrade check: {e}", file=sys.stderr)
            return 2
    tests = [TestResult.from_dict(t) for t in data["tests"]]
    print(render(tests, exercises, directory))
    return 0 if tests and all(t.passed for t in tests) else 1


def with_notebooks(directory: Path, exercises: list[str], tmp: Path) -> Path:
    """`directory`, or a copy of it in which a lab notebook stands for its exercise's missing .py (as
    `dlgrade grade` takes it: cnn_fashion_mnist.ipynb without cnn.py is checked as cnn.py)."""
    from autograder.grading.notebook_code import convertible_notebooks, notebook_to_module

    found = [(nb, e) for nb, e in convertible_notebooks(directory) if e in exercises]
    if not found:
        return directory
    copy = tmp / directory.name
    shutil.copytree(directory, copy, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    for nb, exercise in found:
        (copy / f"{exercise}.py").write_text(notebook_to_module(nb))
        print(f"note: checking the code cells of {nb.name} as {exercise}.py")
    return copy


def render(tests: list[TestResult], exercises: list[str], directory: Path) -> str:
    """The table of exercises and the feedback for each failed check."""
    lines = [f"Public checks on {_show(directory)}/", ""]
    lines.append(f"  {'exercise':<16}{'passed':>10}")
    for ex in exercises:
        mine = [t for t in tests if t.exercise == ex]
        if not mine:
            lines.append(f"  {ex:<16}{'no checks':>10}")
            continue
        ok = sum(t.passed for t in mine)
        mark = "  all pass" if ok == len(mine) else ""
        lines.append(f"  {ex:<16}{f'{ok}/{len(mine)}':>10}{mark}")
    # One block per distinct message: a stub fails every check the same way ("not implemented").
    groups: dict[tuple[str, str], list[TestResult]] = {}
    for t in tests:
        if not t.passed:
            groups.setdefault((t.exercise, t.student_output()), []).append(t)
    for (_, output), group in groups.items():
        more = f" (and {len(group) - 1} more checks failing the same way)" if len(group) > 1 else ""
        lines += ["", f"FAILED {group[0].name}{more}"]
        lines += ["    " + line for line in output.splitlines()]
    passed = sum(t.passed for t in tests)
    lines += ["", f"{passed} of {len(tests)} checks passed. Hidden tests run when your work is graded."]
    return "\n".join(lines)


def _show(path: Path) -> str:
    """path relative to the current folder when it lies below it (as the student would type it)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
