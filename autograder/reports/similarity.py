"""`dlgrade similarity OUT`: pairs of students whose exercise files are unusually similar, for staff review.

Per exercise, pairs are ranked by the share of matching fingerprints after normalisation
(autograder/reports/fingerprints.py: copydetect, the released stub in exercises/ as boilerplate). The
model answer (solutions/) is never one side of a pair; students whose code matches it are
listed apart.

The files are read again from the submissions folder recorded in each results file (or
--submissions), unpacked and converted exactly as for grading; a file changed since it was
graded is compared as it is now, and said so. The report, OUT/similarity.html, is for course
staff only: a high share is a reason to look at two files, never a verdict.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.course.config import EXERCISES
from autograder.reports.fingerprints import K, THRESHOLD, TOP, ExerciseSimilarity, Settings, compare_exercise
from autograder.grading.results import write_text_atomic
from autograder.grading.submissions import BadSubmission, find_entries, prepare

ROOT = Path(__file__).resolve().parents[2]
MAX_FILE_BYTES = 1 << 20


class SimilarityError(ValueError):
    """Bad input for the similarity report (no OUT, no results, no submissions); the message says what to do."""


@dataclass
class SimilarityReport:
    """The whole class: one entry per exercise, and students whose files could not be (exactly) compared."""

    exercises: list[ExerciseSimilarity]
    students: list[str]
    problems: dict[str, str]
    settings: Settings
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"exercises": [e.to_dict() for e in self.exercises], "students": self.students,
                "problems": self.problems, "settings": self.settings.to_dict(), "seconds": round(self.seconds, 3)}


# --- the class's files ---------------------------------------------------------------------------

def read_results(out: Path) -> dict[str, dict]:
    """student -> results dict of OUT/results/*.json; SimilarityError when there are none."""
    results_dir = Path(out) / "results"
    if not results_dir.is_dir():
        raise SimilarityError(f"{results_dir} does not exist; grade first with `dlgrade grade SUBMISSIONS --out {out}`")
    found = {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        found[path.stem] = data if isinstance(data, dict) else {}
    if not found:
        raise SimilarityError(f"no results files (*.json) in {results_dir}; grade first")
    return found


def class_files(out: Path, submissions: Path | None,
                exercises: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """(exercise -> student -> source, student -> problem) for the students graded in OUT.

    Each entry is read from `submissions`, else from the folder its results file records, and
    prepared (unzipped, notebooks converted) as for grading, in a temporary folder.
    """
    results = read_results(out)
    if submissions is not None and not Path(submissions).is_dir():
        raise SimilarityError(f"{submissions} is not a folder of submissions")
    folders = {s: Path(submissions) if submissions else _recorded_folder(r) for s, r in results.items()}
    if not any(folders.values()):
        raise SimilarityError(f"the results in {out} do not record where the submissions are (graded by an older "
                              "dlgrade); give the folder with --submissions SUBMISSIONS")
    files: dict[str, dict[str, str]] = {e: {} for e in exercises}
    problems: dict[str, str] = {}
    entries: dict[Path, dict] = {}
    with tempfile.TemporaryDirectory(prefix="dlgrade-similarity-") as tmp:
        for n, (student, result) in enumerate(results.items()):
            folder = folders[student]
            if folder is None:
                problems[student] = "its results file does not record the submissions folder (use --submissions)"
                continue
            if folder not in entries:
                entries[folder] = find_entries(folder) if folder.is_dir() else {}
            entry = entries[folder].get(student)
            if entry is None:
                problems[student] = f"no entry for this student in {folder} any more"
                continue
            work = Path(tmp) / str(n)
            work.mkdir()
            try:
                prepared = prepare(entry, work)
            except BadSubmission as e:
                problems[student] = str(e)
                continue
            except Exception as e:  # noqa: BLE001 - one unreadable entry must not stop the class
                problems[student] = f"could not read the submission: {type(e).__name__}: {e}"
                continue
            graded = _section(result, "grading").get("content_hash")
            if graded and graded != prepared.content_hash:
                problems[student] = "changed since it was graded: compared as it is now"
            for e in exercises:
                path = prepared.folder / f"{e}.py"
                # A link could point at any file on this machine (the model answer): never follow one.
                if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
                    files[e][student] = path.read_text(encoding="utf-8", errors="replace")
            shutil.rmtree(work, ignore_errors=True)  # unpacked zips: one student's at a time on disk
    return files, problems


def _section(result: dict, name: str) -> dict:
    """extra_data[name] of a results dict, {} when absent or malformed."""
    extra = result.get("extra_data")
    section = extra.get(name) if isinstance(extra, dict) else None
    return section if isinstance(section, dict) else {}


def _recorded_folder(result: dict) -> Path | None:
    folder = _section(result, "submission").get("folder")
    return Path(folder) if isinstance(folder, str) and folder else None


def released(kind: str, exercise: str) -> str | None:
    """The project's `exercises/` stub or `solutions/` model answer of an exercise, if this copy has one."""
    path = ROOT / kind / f"{exercise}.py"
    return path.read_text() if path.is_file() else None


def build(out: Path, submissions: Path | None = None, exercises: list[str] | None = None,
          settings: Settings | None = None) -> SimilarityReport:
    """The similarity report of the class graded in `out`."""
    settings = settings or Settings()
    started = time.monotonic()
    exercises = list(exercises or EXERCISES)
    files, problems = class_files(out, submissions, exercises)
    parts = [compare_exercise(e, files[e], released("exercises", e), released("solutions", e), settings)
             for e in exercises if files[e]]
    students = sorted({s for e in files.values() for s in e} | set(problems))
    return SimilarityReport(parts, students, problems, settings, time.monotonic() - started)


def render(report: SimilarityReport) -> str:
    """OUT/similarity.html: self-contained, like the other reports."""
    from autograder.reports.report import environment

    return environment().get_template("similarity.html.j2").render(r=report)


def write(out: Path, submissions: Path | None = None, exercises: list[str] | None = None,
          settings: Settings | None = None) -> tuple[Path, SimilarityReport]:
    """Build and write OUT/similarity.html; (its path, the report)."""
    report = build(out, submissions, exercises, settings)
    path = Path(out) / "similarity.html"
    write_text_atomic(path, render(report))
    return path, report


def summary(report: SimilarityReport, path: Path) -> str:
    """Terminal lines: the top pair of each exercise and where the report is."""
    lines = []
    for e in report.exercises:
        top = f"top pair {e.pairs[0].a} & {e.pairs[0].b} {e.pairs[0].score:.0%}" if e.pairs else "no pair"
        lines.append(f"{e.exercise:<15} {len(e.compared):4d} compared, {len(e.pairs):4d} pair(s) at or above "
                     f"{report.settings.threshold:.0%}, {len(e.solution):3d} match the solution; {top}")
    lines.append(f"Similarity: {path} (course staff only; a reason to look, not a verdict) in {report.seconds:.1f} s")
    return "\n".join(lines)


def after_grading(out: Path, submissions: Path, exercises: list[str], problems: list[str]) -> None:
    """`dlgrade grade --similarity`: write the report; a failure is a problem, the grades are written anyway."""
    try:
        path, report = write(out, submissions, exercises)
    except Exception as e:  # noqa: BLE001 - `dlgrade similarity OUT` can write it later
        problems.append(f"similarity.html not written: {type(e).__name__}: {e}; "
                        f"run `dlgrade similarity {out}` once it is fixed")
        return
    print(summary(report, path))


# --- the command ---------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the --out folder of `dlgrade grade` (reads its results/)")
    parser.add_argument("--submissions", type=Path,
                        help="the submissions folder (default: the one each results file records)")
    parser.add_argument("--only", help="comma-separated exercises to compare")
    parser.add_argument("--skip", help="comma-separated exercises not to compare")
    parser.add_argument("--threshold", type=float, default=THRESHOLD, metavar="FRACTION",
                        help=f"list pairs whose share of matching fingerprints reaches this (default: {THRESHOLD})")
    parser.add_argument("--top", type=int, default=TOP, metavar="N",
                        help=f"pairs per exercise shown side by side (default: {TOP})")
    parser.add_argument("--k", type=int, default=K, metavar="CHARS",
                        help=f"shortest match counted, in normalised characters (default: {K})")


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the command line; SimilarityError naming a bad value."""
    if not 0.0 < args.threshold <= 1.0:
        raise SimilarityError(f"--threshold {args.threshold:g}: expected a fraction above 0, at most 1")
    if args.top < 0:
        raise SimilarityError("--top must not be negative")
    if args.k < 5:
        raise SimilarityError(f"--k {args.k}: expected at least 5 characters (shorter matches are noise)")
    return Settings(k=args.k, threshold=args.threshold, top=args.top)


def run(args: argparse.Namespace) -> int:
    from autograder.grading.selection import exercises_from

    try:
        exercises = exercises_from(args)
        settings = settings_from(args)
        path, report = write(args.out, args.submissions, exercises, settings)
    except (SimilarityError, ValueError) as e:
        print(f"dlgrade similarity: {e}", file=sys.stderr)
        return 2
    print(summary(report, path))
    for student, problem in report.problems.items():
        print(f"dlgrade similarity: {student}: {problem}", file=sys.stderr)
    return 0
