"""What Gradescope's run_autograder runs: grade `<root>/submission` into `<root>/results/results.json`.

`python -m autograder.gradescope.run [--root ROOT] [--exercises EX,...]`, from the unpacked bundle
(`<root>/source`). The submission is graded like one entry of `dlgrade grade` (grade.grade_task,
the hidden suites), lateness comes from Gradescope's submission_metadata.json, visibilities from
course.toml's [gradescope]. Student code runs in bubblewrap when it works in the container, else
as an unprivileged uid (never as root); the grader, the results and the metadata are root-only
before any student code runs.

It never leaves without a results.json: a broken submission is graded (or named) like any other,
and when the grader itself fails, the results say so (score 0, "contact the course staff") and
the exit status is non-zero.

`--check` (setup.sh runs it) validates course.toml and the suites and says how student code will
run, without grading anything.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from autograder.course.config import EXERCISES, KERAS_EXERCISES, NUMPY_EXERCISES, ConfigError, Course, Gradescope, default_path, load
from autograder.grading.late import Late, lateness, parse_timestamp
from autograder.grading.results import write_json_atomic
from autograder.grading.submissions import JUNK, BadSubmission, Entry, kind_of, prepare

ROOT_ENV = "DLGRADE_GRADESCOPE_ROOT"
DEFAULT_ROOT = "/autograder"
# The uid probed before grading unsandboxed; graded workers use their own leased uids (pool.py).
PROBE_UID = 65534
CONTACT_STAFF = "This is not a problem with your submission; please contact the course staff."
WHEN_SHOWN = {"hidden": "are not shown", "after_due_date": "are shown after the due date",
              "after_published": "are shown once grades are published"}


class GraderBroken(Exception):
    """The grader cannot grade here (configuration, container, a bug): the staff must act."""


class Terminated(BaseException):
    """Gradescope stopped the run (SIGTERM at its time limit)."""


@dataclass
class Layout:
    """Gradescope's folders under one root (/autograder, or a test's stand-in)."""

    root: Path

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def submission(self) -> Path:
        return self.root / "submission"

    @property
    def results(self) -> Path:
        return self.root / "results"

    @property
    def results_json(self) -> Path:
        return self.results / "results.json"

    @property
    def metadata(self) -> Path:
        return self.root / "submission_metadata.json"


@dataclass
class Outcome:
    """The results.json to write and the exit status."""

    results: dict
    status: int = 0
    log: list[str] = field(default_factory=list)  # for the staff's stdout


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope.run", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT),
                        help=f"Gradescope's /autograder folder (default: ${ROOT_ENV}, else {DEFAULT_ROOT})")
    parser.add_argument("--exercises", help="comma-separated exercises to grade (default: the numpy exercises, "
                                            "and the CNN when course.toml's [gradescope] with_cnn is true)")
    parser.add_argument("--course", type=Path, help="course.toml (default: the one beside the grader)")
    parser.add_argument("--check", action="store_true", help="validate the setup and say how student code will run")
    return parser.parse_args(argv)


# --- settings ------------------------------------------------------------------------------

def chosen_exercises(text: str | None, course: Course) -> list[str]:
    """The exercises to grade; GraderBroken for an unknown name or one without grading suites."""
    from autograder.grading.selection import with_suites

    if text:
        names = [n for n in text.split(",") if n]
        unknown = [n for n in names if n not in EXERCISES]
        if unknown:
            raise GraderBroken(f"unknown exercise(s) {', '.join(unknown)}; known: {', '.join(EXERCISES)}")
    else:
        names = list(NUMPY_EXERCISES) + (list(KERAS_EXERCISES) if course.gradescope.with_cnn else [])
    try:
        return with_suites(names, explicit=True)[0]
    except ValueError as e:
        raise GraderBroken(str(e)) from None


def choose_sandbox(setting: str, exercises: list[str]) -> tuple[str, str]:
    """("bwrap" | "none", how student code runs, in words); GraderBroken when it may not run here."""
    from autograder.sandbox.client import bwrap_problem, drop_problem

    problem = bwrap_problem() if setting in ("bwrap", "auto") else "course.toml asks for sandbox = \"none\""
    if problem is None:
        return "bwrap", "in bubblewrap"
    if setting == "bwrap":
        raise GraderBroken(f"course.toml asks for sandbox = \"bwrap\", but {problem}")
    if set(KERAS_EXERCISES) & set(exercises):
        # Unsandboxed, a Keras exercise's worker could read the test split and cannot reach its output folder.
        raise GraderBroken(f"the Keras exercises ({', '.join(KERAS_EXERCISES)}) are graded only in bubblewrap, and {problem}; "
                           "set with_cnn = false or use an image where bwrap works")
    if os.geteuid() != 0:
        return "none", f"as this user (uid {os.getuid()}), unsandboxed ({problem})"
    cannot = drop_problem(PROBE_UID, PROBE_UID)
    if cannot:
        raise GraderBroken(f"bubblewrap is unusable ({problem}) and student code cannot run as an "
                           f"unprivileged uid: {cannot}")
    return "none", f"as an unprivileged uid, without namespaces ({problem})"


def lock_down(layout: Layout) -> None:
    """What student code must not read or write becomes root-only (run_autograder does it too)."""
    layout.results.mkdir(parents=True, exist_ok=True)
    for path, mode in ((layout.source, 0o700), (layout.results, 0o700), (layout.metadata, 0o600)):
        if path.exists() and not path.is_symlink():
            os.chmod(path, mode)


# --- the submission ----------------------------------------------------------------------------

def read_metadata(path: Path) -> tuple[dict, str]:
    """submission_metadata.json as a dict ({} when absent) and a note when it could not be read."""
    if not path.exists():
        return {}, ""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return {}, f"{path.name} could not be read ({type(e).__name__}: {e}); no late penalty applied"
    return (data, "") if isinstance(data, dict) else ({}, f"{path.name} is not a JSON object; no late penalty applied")


def student_name(metadata: dict) -> str:
    users = metadata.get("users")
    if isinstance(users, list):
        names = [str(u.get("name") or u.get("email") or u.get("id") or "") for u in users if isinstance(u, dict)]
        if any(names):
            return ", ".join(n for n in names if n)
    return "submission"


def due_date(metadata: dict) -> str:
    """The due date that applies: the latest of the users' own (extensions), else the assignment's."""
    dates = []
    for user in metadata.get("users") or []:
        own = user.get("assignment") if isinstance(user, dict) else None
        if isinstance(own, dict) and own.get("due_date"):
            dates.append(str(own["due_date"]))
    if dates:
        return max(dates, key=parse_timestamp)
    assignment = metadata.get("assignment")
    return str(assignment.get("due_date") or "") if isinstance(assignment, dict) else ""


def late_of(metadata: dict, course: Course) -> tuple[Late, dict, str]:
    """(the penalty, what results.json records about it, a note when the dates could not be read)."""
    created = metadata.get("created_at")
    if not created:
        return Late(), {}, ""
    try:
        when = parse_timestamp(str(created))
        due = due_date(metadata)
        grading = dataclasses.replace(course.grading, deadline=due) if due else course.grading
        late = lateness(grading, when)
    except (ValueError, ConfigError) as e:
        return Late(), {}, f"the submission or due date could not be read ({e}); no late penalty applied"
    info = {"policy": course.grading.late_policy, "submitted_at": when.isoformat(), "due_date": grading.deadline,
            "days_late": late.days_late, "seconds_late": round(late.seconds_late, 3), "fraction": late.fraction}
    return late, info, ""


def submission_entry(folder: Path) -> Entry:
    """The submission as one entry of `dlgrade grade`: its folder, or the lone .zip / lab notebook uploaded in it."""
    if not folder.is_dir():
        raise GraderBroken(f"there is no submission folder {folder}")
    children = [c for c in folder.iterdir() if not c.name.startswith(".") and c.name not in JUNK]
    if len(children) == 1 and children[0].is_file() and not children[0].is_symlink():
        only = children[0]
        kind = kind_of(only)
        exercise_notebook = only.stem in EXERCISES or only.stem.split("_", 1)[0] in EXERCISES
        if kind == "zip" or (kind == "notebook" and not exercise_notebook):
            return Entry("submission", [only])
    return Entry("submission", [folder])


# --- results.json ---------------------------------------------------------------------------------

def gradescope_tests(tests: list[dict], settings: Gradescope) -> list[dict]:
    """The tests with course.toml's visibilities; hidden tests keep no details, hints or data."""
    out = []
    for t in tests:
        t = dict(t)
        hidden = t.get("tags", [])[1:2] == ["hidden"]
        t["visibility"] = settings.hidden_visibility if hidden else settings.public_visibility
        if hidden:
            t["output"] = ""
            t["extra_data"] = {k: v for k, v in t.get("extra_data", {}).items() if k not in ("details", "hint", "data")}
        out.append(t)
    return out


def summary(tests: list[dict], exercises: list[str], folder: Path | None, settings: Gradescope) -> list[str]:
    """Per exercise, what the student may see now: the tests visible to them, the files not submitted."""
    lines = []
    for exercise in exercises:
        if folder is not None and not (folder / f"{exercise}.py").is_file():
            lines.append(f"{exercise}: {exercise}.py was not submitted")
            continue
        seen = [t for t in tests if t["tags"][0] == exercise and t["visibility"] == "visible"]
        if not seen:
            lines.append(f"{exercise}: graded")
            continue
        passed = sum(t["status"] == "passed" for t in seen)
        points = sum(t["score"] for t in seen), sum(t["max_score"] for t in seen)
        lines.append(f"{exercise}: {passed} of {len(seen)} tests passed, {points[0]:.2f} / {points[1]:.2f} points")
    later = [f"{kind} tests' results {WHEN_SHOWN.get(when, 'are shown later')}"
             for kind, when in (("public", settings.public_visibility), ("hidden", settings.hidden_visibility))
             if when != "visible"]
    if later:
        lines.append("Not counted above: " + "; ".join(later) + ".")
    return lines


def results_json(graded: dict, *, settings: Gradescope, exercises: list[str], folder: Path | None,
                 late: Late, late_info: dict, notes: list[str], failure: str = "") -> dict:
    """Gradescope's results.json from grade_task's results dict (score after the late penalty)."""
    tests = gradescope_tests(graded.get("tests", []), settings)
    extra = dict(graded.get("extra_data", {}))
    raw = sum(t["score"] for t in tests)
    lines = []
    if failure:
        score = 0.0
        # The first line only: the rest (the grading run's log) is for the staff's eyes.
        lines += [f"Grading failed: {failure.splitlines()[0][:300]}", CONTACT_STAFF]
    else:
        penalty = late.penalty(raw)
        score = raw - penalty
        lines += summary(tests, exercises, folder, settings)
        if late.fraction:
            lines.append(f"Submitted {late.days_late} day(s) after the due date: the late policy removes "
                         f"{late.fraction:.0%} of the score ({penalty:.2f} points).")
    lines += notes
    extra.update(late=late_info, notes=notes, raw_score=round(raw, 4))
    return {
        "score": round(score, 4),
        "execution_time": graded.get("execution_time", 0.0),
        "output": "\n".join(lines),
        "visibility": settings.visibility,
        "stdout_visibility": settings.stdout_visibility,
        "tests": tests,
        "extra_data": extra,
    }


def failure_results(reason: str, settings: Gradescope | None = None) -> dict:
    """results.json when the grader could not grade at all."""
    settings = settings or Gradescope()
    return {"score": 0.0, "execution_time": 0.0, "output": f"Grading failed: {reason}\n{CONTACT_STAFF}",
            "visibility": settings.visibility, "stdout_visibility": settings.stdout_visibility,
            "tests": [], "extra_data": {"could_not_grade": reason}}


# --- grading -------------------------------------------------------------------------------------

def grade(layout: Layout, args: argparse.Namespace) -> Outcome:
    """Grade the submission; GraderBroken when the grader cannot."""
    from autograder.grading.grade import grade_task, grader_version, submission_timeout
    from autograder.sandbox.client import ENV_REQUIRE_DROP

    course_path = args.course or default_path()
    try:
        course = load(course_path)
    except ConfigError as e:
        raise GraderBroken(str(e)) from None
    settings = course.gradescope
    exercises = chosen_exercises(args.exercises, course)
    lock_down(layout)
    sandbox, how = choose_sandbox(settings.sandbox, exercises)
    log = [f"grading {', '.join(exercises)} with {grader_version()}; student code runs {how}"]
    metadata, note = read_metadata(layout.metadata)
    notes = [note] if note else []
    late, late_info, note = late_of(metadata, course)
    notes += [note] if note else []
    student = student_name(metadata)
    entry = submission_entry(layout.submission)
    with tempfile.TemporaryDirectory(prefix="dlgrade-gradescope-") as workdir:
        try:
            prepared = prepare(entry, Path(workdir))
        except BadSubmission as e:  # the student's to fix: graded (0), not a grader failure
            results = failure_results(str(e), settings)
            results["output"] = f"Your submission could not be graded: {e}\nFix it and submit again."
            results["extra_data"].update(student=student, late=late_info, notes=notes)
            return Outcome(results, 0, log + [f"bad submission: {e}"])
        notes = prepared.notes + notes
        timeout = submission_timeout(SimpleNamespace(cnn_budget=None), course, exercises)
        graded = grade_task(student, str(prepared.folder), exercises, sandbox, course_path.read_text()
                            if course_path.is_file() else "", timeout, {ENV_REQUIRE_DROP: "1"})
        broken = graded.get("extra_data", {}).get("could_not_grade", "")
        graded["extra_data"].update(sandbox=sandbox, submission={"entry": ", ".join(p.name for p in entry.paths),
                                                                 "kind": entry.kind})
        results = results_json(graded, settings=settings, exercises=exercises, folder=prepared.folder, late=late,
                               late_info=late_info, notes=notes, failure=broken)
    log.append(f"score {results['score']:.2f} / {graded['extra_data'].get('max_score', 0):.2f} "
               f"in {results['execution_time']:.1f} s" + (f"; COULD NOT GRADE: {broken}" if broken else ""))
    return Outcome(results, 1 if broken else 0, log)


def check(args: argparse.Namespace) -> int:
    """--check: course.toml, the suites and the sandbox, as setup.sh reports them."""
    try:
        course = load(args.course or default_path())
        exercises = chosen_exercises(args.exercises, course)
        _, how = choose_sandbox(course.gradescope.sandbox, exercises)
    except (ConfigError, GraderBroken) as e:
        print(f"gradescope_run --check: {e}", file=sys.stderr)
        return 1
    print(f"gradescope_run --check: grading {', '.join(exercises)}; student code would run {how} "
          "(checked in this image; grading checks again)")
    return 0


def _terminate(signum, frame):
    raise Terminated(f"stopped by signal {signal.Signals(signum).name} (Gradescope's time limit?)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.check:
        return check(args)
    layout = Layout(args.root)
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        outcome = grade(layout, args)
    except GraderBroken as e:
        outcome = Outcome(failure_results(str(e)), 1, [f"could not grade: {e}"])
    except (Exception, Terminated, KeyboardInterrupt) as e:  # whatever breaks, the student gets a result
        traceback.print_exc()
        outcome = Outcome(failure_results(f"the grader failed ({type(e).__name__}: {e})"), 1,
                          [f"could not grade: {type(e).__name__}: {e}"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    outcome.results["execution_time"] = round(time.monotonic() - started, 3)
    try:
        write_json_atomic(layout.results_json, outcome.results)
    except OSError as e:
        print(f"gradescope_run: cannot write {layout.results_json}: {e}", file=sys.stderr)
        return 1
    for line in outcome.log:
        print(f"gradescope_run: {line}")
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
