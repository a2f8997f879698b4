"""`dlgrade grade`: grade every submission with the full (hidden) suites into OUT/results/."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from autograder.config import EXERCISES, ConfigError, load
from autograder.results import SubmissionResult, TestResult, write_json_atomic
from autograder.runner import GradingFailed, run_suites


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="folder with one entry per student")
    parser.add_argument("--out", type=Path, required=True, help="where results/ is written")
    parser.add_argument("--only", help="comma-separated exercises to grade")
    parser.add_argument("--skip", help="comma-separated exercises not to grade")
    parser.add_argument("--course", help="course.toml to use")
    parser.add_argument("--unsafe-no-sandbox", action="store_true", help="grade without bubblewrap (trusted code only!)")


def exercises_from(args: argparse.Namespace) -> list[str]:
    """The exercises to grade after --only/--skip; ValueError naming an unknown one."""
    chosen = args.only.split(",") if args.only else list(EXERCISES)
    skipped = args.skip.split(",") if args.skip else []
    for name in chosen + skipped:
        if name not in EXERCISES:
            raise ValueError(f"unknown exercise {name!r}; choose from {', '.join(EXERCISES)}")
    return [e for e in chosen if e not in skipped]


def submissions_in(folder: Path) -> dict[str, Path]:
    """Student id -> submission path; duplicates (e.g. `ana/` and `ana.zip`) are an error for that id."""
    found: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        student = entry.name if entry.is_dir() else entry.stem
        found.setdefault(student, []).append(entry)
    return {s: paths[0] if len(paths) == 1 else paths for s, paths in found.items()}


def grade_one(
    student: str, entry, exercises: list[str], sandbox: str, course: str | None, timeout: float | None = None
) -> SubmissionResult:
    """Grade one submission; a failure of the grader becomes a 'could not grade' result, never an exception."""
    start = time.monotonic()
    result = SubmissionResult(student=student, sandboxed=sandbox != "none")
    if isinstance(entry, list):
        names = ", ".join(p.name for p in entry)
        result.could_not_grade = f"several submissions for {student} ({names}); keep one"
    elif not entry.is_dir():
        result.could_not_grade = f"{entry.name}: unsupported submission type (expected a folder of exercise files)"
    else:
        try:
            data = run_suites(entry, exercises, hidden=True, sandbox=sandbox, course=course, timeout=timeout)
            result.tests = [TestResult.from_dict(t) for t in data["tests"]]
            result.sandboxed = data.get("sandboxed", result.sandboxed)
            broken = [t.name for t in result.tests if t.grader_error]
            if broken:
                result.could_not_grade = f"the grader failed on {len(broken)} test(s): {', '.join(broken[:3])}"
        except GradingFailed as e:
            result.could_not_grade = str(e)
    result.execution_time = time.monotonic() - start
    return result


def run(args: argparse.Namespace) -> int:
    try:
        exercises = exercises_from(args)
        limits = load(args.course).limits
    except (ValueError, ConfigError) as e:
        print(f"dlgrade grade: {e}", file=sys.stderr)
        return 2
    if not args.submissions.is_dir():
        print(f"dlgrade grade: {args.submissions} is not a folder of submissions", file=sys.stderr)
        return 2
    from autograder.sandbox import bwrap_available

    if args.unsafe_no_sandbox:
        sandbox = "none"
    elif bwrap_available():
        sandbox = "bwrap"
    else:
        print(
            "dlgrade grade: bubblewrap (bwrap) is not available, so student code cannot be sandboxed.\n"
            "Install it (apt-get install bubblewrap) or pass --unsafe-no-sandbox for trusted code only.",
            file=sys.stderr,
        )
        return 2
    failed = 0
    for student, entry in submissions_in(args.submissions).items():
        result = grade_one(student, entry, exercises, sandbox, args.course, limits.submission_timeout_s)
        write_json_atomic(args.out / "results" / f"{student}.json", result.to_dict())
        if result.could_not_grade:
            failed += 1
            print(f"{student}: could not grade: {result.could_not_grade}", file=sys.stderr)
        print(f"{student}: {result.score:.2f} / {result.max_score:.2f} ({result.execution_time:.1f} s)")
    return 1 if failed else 0
