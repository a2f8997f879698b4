"""`dlgrade similarity OUT`: pairs of students whose exercise files are unusually similar, for staff review.

Fingerprinting is copydetect's (winnowing over pygments tokens, as MOSS does): comments,
whitespace and docstrings are dropped and every identifier becomes one letter, so renamed
variables and reordered functions do not hide a copy. Each file keeps only the fingerprints
of its own code: those of the released stub (exercises/) are boilerplate, and those found in
more than half of a large class's files are the idiom of any correct answer. Two files'
similarity is the share of one file's fingerprints found in the other. The model answer
(solutions/) is never one side of a pair; students whose code matches it are listed apart.

The files are read again from the submissions folder recorded in each results file (or
--submissions), unpacked and converted exactly as for grading; a file changed since it was
graded is compared as it is now, and said so. The report, OUT/similarity.html, is for course
staff only: a high share is a reason to look at two files, never a verdict.
"""
from __future__ import annotations

import argparse
import copy
import io
import json
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.config import EXERCISES
from autograder.results import write_text_atomic
from autograder.submissions import BadSubmission, find_entries, prepare

ROOT = Path(__file__).resolve().parent.parent
K = 25  # copydetect's noise threshold: shorter matches of normalised text (about two statements) are chance
THRESHOLD = 0.6
TOP = 20
MIN_FINGERPRINTS = 20  # less own code than this (an untouched stub, one line) says nothing either way
COMMON = 0.5
COMMON_MIN_FILES = 10  # in a smaller class, "common" would be any two students who agree
MAX_FILE_BYTES = 1 << 20
DEFINITION = re.compile(r"(@|def\s|class\s|async\s+def\s)")


class SimilarityError(ValueError):
    """Bad input for the similarity report (no OUT, no results, no submissions); the message says what to do."""


@dataclass
class Settings:
    """What the report was computed with (shown in it, and options of the command)."""

    k: int = K
    threshold: float = THRESHOLD
    top: int = TOP
    min_fingerprints: int = MIN_FINGERPRINTS
    common: float = COMMON
    common_min_files: int = COMMON_MIN_FILES

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Pair:
    """Two students' files of one exercise and the fingerprints they share."""

    a: str
    b: str
    shared: int
    share_a: float  # of a's own fingerprints, the share found in b's
    share_b: float
    both_match_solution: bool = False

    @property
    def score(self) -> float:
        """The larger share: a file copied into a longer one is still all copied."""
        return max(self.share_a, self.share_b)

    def to_dict(self) -> dict:
        return {**asdict(self), "score": round(self.score, 4)}


@dataclass
class SolutionMatch:
    """A student whose file matches the published model answer."""

    student: str
    share: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SideBySide:
    """Both files of a pair as HTML, the matching regions marked."""

    left: str
    right: str


@dataclass
class ExerciseSimilarity:
    """One exercise: who was compared, the ranked pairs at or above the threshold, matches of the solution."""

    exercise: str
    compared: list[str]
    too_little: list[str]  # too little code of their own to compare
    pairs: list[Pair]
    solution: list[SolutionMatch]
    common: int  # fingerprints left out as common to much of the class
    views: dict[tuple[str, str], SideBySide] = field(default_factory=dict)  # the top pairs

    def to_dict(self) -> dict:
        return {"exercise": self.exercise, "compared": self.compared, "too_little": self.too_little,
                "pairs": [p.to_dict() for p in self.pairs], "solution": [m.to_dict() for m in self.solution],
                "common": self.common}


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


# --- fingerprints and pairs (pure: texts in, results out) ----------------------------------------------

@dataclass
class Document:
    """One file's fingerprints: copydetect's, per top-level definition, and all of them together."""

    text: str
    parts: list  # (offset in text, copydetect.CodeFingerprint of the definition)
    hashes: set[int]


def definitions(text: str) -> list[tuple[int, str]]:
    """(offset, text) of the module head and each top-level def/class (with its decorators), in file order."""
    starts, previous = [0], ""
    for m in re.finditer(r"^.*$", text, re.M):
        line = m.group()
        if DEFINITION.match(line) and not previous.startswith("@") and m.start() > 0:
            starts.append(m.start())
        if line.strip():
            previous = line
    ends = starts[1:] + [len(text)]
    return [(a, text[a:b]) for a, b in zip(starts, ends)]


def fingerprint(text: str, k: int) -> Document:
    """Every k-gram of each definition's normalised text, by copydetect (window 1).

    Each definition is fingerprinted on its own, so that reordering functions changes no
    fingerprint. Window 1 keeps every k-gram rather than winnowing's minima: the minima depend
    on Python's per-process string hashes, and the same files must give the same report.
    """
    from copydetect import CodeFingerprint

    # language= skips pygments' guess from the file name, most of the cost of a small file.
    parts = [(offset, CodeFingerprint("code.py", k, 1, fp=io.StringIO(part), language="python"))
             for offset, part in definitions(text)]
    return Document(text, parts, set().union(*(fp.hashes for _, fp in parts)))


def compare_exercise(exercise: str, files: dict[str, str], stub: str | None, solution: str | None,
                     settings: Settings | None = None, views: bool = True) -> ExerciseSimilarity:
    """Rank every pair of `files` (student -> source) by shared own fingerprints; the top ones side by side."""
    settings = settings or Settings()
    k = settings.k
    # Identical files (untouched stubs, shared copies) are fingerprinted once.
    prints = {text: fingerprint(text, k) for text in set(files.values())}
    boilerplate = fingerprint(stub, k).hashes if stub else set()
    own = {s: prints[text].hashes - boilerplate for s, text in files.items()}
    compared = sorted(s for s, h in own.items() if len(h) >= settings.min_fingerprints)
    too_little = sorted(s for s in files if s not in compared)
    counts: dict[int, int] = {}
    for s in compared:
        for h in own[s]:
            counts[h] = counts.get(h, 0) + 1
    common: set[int] = set()
    if len(compared) >= settings.common_min_files:
        limit = settings.common * len(compared)
        common = {h for h, n in counts.items() if n > limit}
    own = {s: own[s] - common for s in compared}
    model = fingerprint(solution, k).hashes - boilerplate - common if solution else set()
    matches = {s: len(own[s] & model) / len(own[s]) for s in compared if own[s]} if model else {}
    solution_matches = sorted((SolutionMatch(s, round(x, 4)) for s, x in matches.items() if x >= settings.threshold),
                              key=lambda m: (-m.share, m.student))
    pairs = []
    for i, a in enumerate(compared):
        ha = own[a]
        if not ha:
            continue
        for b in compared[i + 1:]:
            hb = own[b]
            shared = len(ha & hb) if hb else 0
            if not shared:
                continue
            pair = Pair(a, b, shared, round(shared / len(ha), 4), round(shared / len(hb), 4))
            if pair.score >= settings.threshold:
                pair.both_match_solution = min(matches.get(a, 0.0), matches.get(b, 0.0)) >= settings.threshold
                pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    result = ExerciseSimilarity(exercise, compared, too_little, pairs, solution_matches, len(common))
    if views:
        for p in pairs[:settings.top]:
            result.views[(p.a, p.b)] = side_by_side(prints[files[p.a]], prints[files[p.b]], own[p.a], own[p.b])
    return result


def side_by_side(left: Document, right: Document, own_left: set[int], own_right: set[int]) -> SideBySide:
    """Both files as HTML with copydetect's matching slices marked (own fingerprints only)."""
    from copydetect import compare_files

    marks: tuple[list, list] = ([], [])
    for offset_a, a in left.parts:
        for offset_b, b in right.parts:
            # compare_files matches on .hashes: give it each file's own fingerprints, not the boilerplate's.
            a2, b2 = copy.copy(a), copy.copy(b)
            a2.hashes, b2.hashes = a.hashes & own_left, b.hashes & own_right
            _, _, (slices_a, slices_b) = compare_files(a2, b2)
            for side, offset, slices in ((0, offset_a, slices_a), (1, offset_b, slices_b)):
                if slices.size:
                    marks[side].extend((offset + int(x), offset + int(y)) for x, y in zip(*slices))
    return SideBySide(marked(left.text, marks[0]), marked(right.text, marks[1]))


def marked(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` as HTML with the (merged) spans in <mark>."""
    from markupsafe import escape

    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    html, at = [], 0
    for start, end in merged:
        html += [str(escape(text[at:start])), "<mark>", str(escape(text[start:end])), "</mark>"]
        at = end
    html.append(str(escape(text[at:])))
    return "".join(html)


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


def class_files(out: Path, submissions: Path | None, exercises: list[str]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
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
            graded = result.get("extra_data", {}).get("grading", {}).get("content_hash")
            if graded and graded != prepared.content_hash:
                problems[student] = "changed since it was graded: compared as it is now"
            for e in exercises:
                path = prepared.folder / f"{e}.py"
                # A link could point at any file on this machine (the model answer): never follow one.
                if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
                    files[e][student] = path.read_text(encoding="utf-8", errors="replace")
    return files, problems


def _recorded_folder(result: dict) -> Path | None:
    folder = result.get("extra_data", {}).get("submission", {}).get("folder")
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
    from autograder.report import environment

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
    from autograder.grade import exercises_from

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
