"""`dlgrade regrade-preview OLD_OUT`: grade the class again into a new folder and show whose scores would move.

After a change to a suite, a tolerance or a weight, nothing is published: the same submissions
are graded with this checkout's suites and the given course.toml into NEW_OUT (default
OLD_OUT-preview), and the two gradings are compared (autograder/grading/scorediff.py): who moves, by how
much per exercise, and which tests caused it; the unchanged are counted. A table on the terminal,
NEW_OUT/regrade-preview.html for the staff. Exit status: 0 nothing moved, 1 something moved,
2 bad usage (or the new grading could not start), 130 interrupted.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
from pathlib import Path

from autograder.grading import scorediff
from autograder.course.config import EXERCISES, KERAS_EXERCISES
from autograder.grading.gradebook import fmt
from autograder.grading.results import write_text_atomic

MARKER = ".dlgrade-preview"  # a folder this command made, which it may empty again


class PreviewError(ValueError):
    """Bad usage of regrade-preview; the message says what to do."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old_out", type=Path, help="the --out folder of the grading to compare with")
    parser.add_argument("--course", help="the changed course.toml (default: the one `dlgrade grade` uses)")
    parser.add_argument("--out", type=Path, help="where the new grading goes (default: OLD_OUT-preview)")
    parser.add_argument("--submissions", type=Path,
                        help="the submissions folder (default: the one OLD_OUT's results record)")
    parser.add_argument("--only", help="comma-separated exercises to grade (default: those OLD_OUT graded)")
    parser.add_argument("--skip", help="comma-separated exercises not to grade")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once")
    parser.add_argument("--unsafe-no-sandbox", action="store_true",
                        help="grade without bubblewrap (trusted code only!)")
    parser.add_argument("--compare", type=Path, metavar="NEW_OUT",
                        help="compare with this folder, already graded, instead of grading again")


def recorded(old: dict[str, dict], key: str) -> list:
    """The distinct values of extra_data.submission/grading[key] in the old results, in first-seen order."""
    section = "submission" if key == "folder" else "grading"
    values = [r.get("extra_data", {}).get(section, {}).get(key) for r in old.values()]
    return list({repr(v): v for v in values if v}.values())


def submissions_of(args: argparse.Namespace, old: dict[str, dict]) -> Path:
    """--submissions, else the one folder OLD_OUT's results record."""
    if args.submissions is not None:
        if not args.submissions.is_dir():
            raise PreviewError(f"{args.submissions} is not a folder of submissions")
        return args.submissions
    folders = recorded(old, "folder")
    if len(folders) != 1:
        why = "record no submissions folder" if not folders else f"record {len(folders)} submissions folders"
        raise PreviewError(f"the results in {args.old_out} {why}; give it with --submissions SUBMISSIONS")
    if not Path(folders[0]).is_dir():
        raise PreviewError(f"{folders[0]} (where {args.old_out} was graded from) is not a folder any more; "
                           "give it with --submissions SUBMISSIONS")
    return Path(folders[0])


def exercises_of(args: argparse.Namespace, old: dict[str, dict]) -> list[str]:
    """--only/--skip, else the exercises OLD_OUT was graded with."""
    from autograder.grading.selection import exercises_from

    if args.only or args.skip:
        return exercises_from(args)
    seen = {e for chosen in recorded(old, "exercises") for e in chosen}
    seen |= {t["tags"][0] for r in old.values() for t in r.get("tests", [])}
    return [e for e in EXERCISES if e in seen] or exercises_from(args)


def new_folder(args: argparse.Namespace) -> Path:
    """NEW_OUT; PreviewError when it is OLD_OUT or a folder in use that this command did not make."""
    new = args.out or args.old_out.with_name(args.old_out.name + "-preview")
    if new.resolve() == args.old_out.resolve():
        raise PreviewError("--out must not be OLD_OUT: the preview never overwrites a grading")
    if new.exists() and (not new.is_dir() or any(new.iterdir()) and not (new / MARKER).exists()):
        raise PreviewError(f"{new} exists and was not made by regrade-preview; choose another --out")
    return new


def grade_again(args: argparse.Namespace, old: dict[str, dict]) -> tuple[Path, int]:
    """Grade the class into NEW_OUT with `dlgrade grade`; (NEW_OUT, its exit status)."""
    from autograder.grading import grade

    new = new_folder(args)
    subs, exercises = submissions_of(args, old), exercises_of(args, old)
    keras = [e for e in exercises if e in KERAS_EXERCISES]
    if keras:
        print(f"dlgrade regrade-preview: {', '.join(keras)} train Keras models again, and training is not "
              f"deterministic: their moves may be noise (--skip {','.join(keras)} when their grading did not change)",
              file=sys.stderr)
    # Results of students no longer submitted must not linger; the reuse store may (same files, same grades).
    shutil.rmtree(new / "results", ignore_errors=True)
    new.mkdir(parents=True, exist_ok=True)
    (new / MARKER).write_text(f"{args.old_out.resolve()}\n")
    argv = [str(subs), "--out", str(new), "--only", ",".join(exercises), "--jobs", str(args.jobs), "--no-report"]
    argv += ["--course", args.course] if args.course else []
    argv += ["--unsafe-no-sandbox"] if args.unsafe_no_sandbox else []
    for options in recorded(old, "options")[:1]:  # the CNN's device and budget, as OLD_OUT was graded
        for key, value in options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
    parser = argparse.ArgumentParser(prog="dlgrade grade")
    grade.add_arguments(parser)
    # Grading's own summary goes to stderr with its progress: stdout is the preview's table.
    with contextlib.redirect_stdout(sys.stderr):
        status = grade.run(parser.parse_args(argv))
    return new, status


def table(preview: scorediff.Preview) -> str:
    """The terminal table: each moved student's exercises, old -> new, and the tests behind each move."""
    n = len(preview.moved) + preview.unchanged
    lines = [f"Regrade preview: {len(preview.moved)} of {n} student(s) move; {preview.unchanged} unchanged."]
    if preview.moved:
        width = max(len("student"), *(len(m.student) for m in preview.moved))
        lines += ["", f"{'student':<{width}}  {'exercise':<14} {'old':>7} {'new':>7} {'change':>7}  because"]
        for m in preview.moved:
            first = True
            for e in m.exercises:
                because = "; ".join([f"{c.test_id.split('::', 1)[-1]} ({c.why})" for c in e.causes]
                                    + ([e.note] if e.note else []))
                lines.append(f"{m.student if first else '':<{width}}  {e.exercise:<14} {_pts(e.old):>7} "
                             f"{_pts(e.new):>7} {fmt(e.delta):>7}  {because}")
                first = False
            lines.append(f"{m.student if first else '':<{width}}  {'total':<14} {_pts(m.old_total):>7} "
                         f"{_pts(m.new_total):>7} {fmt(m.delta):>7}  {m.status}")
    if preview.tests:
        lines += ["", "Tests behind the moves:"]
        lines += [f"  {t.test_id} ({t.why}): {len(t.students)} student(s)" for t in preview.tests]
    return "\n".join(lines)


def _pts(x: float | None) -> str:
    return "-" if x is None else fmt(x)


def render(preview: scorediff.Preview) -> str:
    """NEW_OUT/regrade-preview.html: self-contained, like the other reports."""
    from autograder.reports.report import environment

    return environment().get_template("regrade.html.j2").render(p=preview)


def run(args: argparse.Namespace) -> int:
    try:
        old = scorediff.load(args.old_out)
        if args.compare is not None:
            new, status = args.compare, 0
        else:
            if args.jobs < 1:
                raise PreviewError("--jobs must be at least 1")
            new, status = grade_again(args, old)
            if status in (2, 130):
                print(f"dlgrade regrade-preview: the new grading did not finish (exit {status}); nothing compared",
                      file=sys.stderr)
                return status
        preview = scorediff.compare_dirs(args.old_out, new)
    except (PreviewError, scorediff.NoResults, ValueError) as e:
        print(f"dlgrade regrade-preview: {e}", file=sys.stderr)
        return 2
    print(table(preview))
    path = Path(new) / "regrade-preview.html"
    write_text_atomic(path, render(preview))
    print(f"\nNew grading: {new} (not published)\nPreview:     {path}")
    return 1 if preview.anything_moved else 0
