"""`dlgrade grade`: grade every submission with the full (hidden) suites, in parallel and resumably.

Each student's results file is written atomically as soon as it is graded and records what it
was graded from (submission content hash, grader version, course.toml hash, exercises), so
`--resume` after a crash or a kill grades only what is missing or changed. grades.csv and
gradebook.db are rebuilt from the results at the end of every run.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from autograder.course import coursedir
from autograder.course.config import ConfigError, load
from autograder.grading.late import deadline_of
from autograder.grading.progress import clock
from autograder.grading.submissions import find_entries, strays
from autograder.grading.batch import Batch, Job, Task  # noqa: F401 - the command's parts, importable from here
from autograder.grading.options import (check_cnn_options, course_hash, device_env,  # noqa: F401
                                        grader_version, submission_timeout, suite_env)
from autograder.grading.selection import exercises_from, with_suites
from autograder.grading.task import failed, grade_task  # noqa: F401


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path, help="folder with one entry per student (folder, .zip or .ipynb)")
    parser.add_argument("--out", type=Path, required=True, help="where results/, grades.csv and gradebook.db go")
    parser.add_argument("--only", help="comma-separated exercises to grade")
    parser.add_argument("--skip", help="comma-separated exercises not to grade")
    parser.add_argument("--course", help="course.toml to use (default: the course folder's)")
    coursedir.add_argument(parser)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once on this machine (default: the number of cores)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="grade on this Dask distributed cluster (scheduler address) instead of locally")
    parser.add_argument("--resume", action="store_true",
                        help="keep results of submissions graded before from the same files, grader and course.toml")
    parser.add_argument("--no-reuse", action="store_true",
                        help="grade every file even when an identical one was graded before (see autograder/grading/reuse.py)")
    parser.add_argument("--no-replay", action="store_true",
                        help="run every property test under hypothesis for every submission instead of replaying "
                             "the examples recorded where it first passed (same grades, slower; see autograder/grading/replay.py)")
    parser.add_argument("--assignment", default="dlgrade", help="assignment name in gradebook.db (default: dlgrade)")
    parser.add_argument("--unsafe-no-sandbox", action="store_true", help="grade without bubblewrap (trusted code only!)")
    parser.add_argument("--cnn-budget", type=float, metavar="SECONDS",
                        help="training time the CNN's train gets (default: course.toml's budget_cpu_s or budget_gpu_s)")
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"),
                        help="where the CNN trains: auto (a GPU if one is usable, the default), cpu, or gpu (fail without one)")
    parser.add_argument("--no-report", action="store_true",
                        help="do not render feedback/ and summary.html at the end (`dlgrade report OUT` does it later)")
    parser.add_argument("--similarity", action="store_true",
                        help="also write OUT/similarity.html, the staff-only report of unusually similar code "
                             "(`dlgrade similarity OUT` does it later)")


def submissions_problem(submissions: Path, out: Path) -> str:
    """Why SUBMISSIONS and --out cannot be graded as given ('' when they can)."""
    if not submissions.is_dir():
        return f"{submissions} is not a folder of submissions"
    inside = out.resolve() == submissions.resolve() or out.resolve().is_relative_to(submissions.resolve())
    if inside:
        return (f"--out {out} is inside the submissions folder {submissions}: the next run would grade its "
                "results/, feedback/ and grades.csv as students; choose an --out folder outside it")
    if not find_entries(submissions):
        skipped = strays(submissions)
        held = f" (only {', '.join(skipped)}, which cannot be submissions)" if skipped else ""
        return (f"no submissions in {submissions}{held}: expected one entry per student, a folder of exercise "
                "files, a .zip of them or a .ipynb notebook")
    return ""


def summary(batch: Batch, seconds: float) -> str:
    """The end-of-run table: counts, mean per exercise, slowest submissions, failures, where things are."""
    rows = batch.rows()
    graded = [r for r in rows if r.exercises is not None]
    failures = {s: r["extra_data"]["could_not_grade"] for s, r in sorted(batch.results.items())
                if r.get("extra_data", {}).get("could_not_grade")}
    unchanged = [s for s in batch.skipped if s not in failures]
    now = len(batch.results) - len(unchanged) - len(failures)
    # Every entry is exactly one of: graded now, unchanged since the last run, could not be graded.
    lines = [f"{len(batch.entries)} submission(s) in {clock(seconds)} with {batch.pool.describe()}: "
             f"{now} graded now, {len(unchanged)} unchanged since the last run (--resume), "
             f"{len(failures)} could not be graded."]
    skipped = getattr(batch, "strays", [])
    if skipped:
        lines.append(f"Skipped {len(skipped)} file(s) that cannot be submissions (a submission is a folder, "
                     f"a .zip or a .ipynb): {', '.join(skipped)}")
    if graded:
        width = max(len("total"), *(len(e) for e in batch.exercises))
        lines += ["", f"{'exercise':<{width}}  {'mean':>7}  {'max':>7}"]
        for e in batch.exercises:
            mean = sum(r.exercises[e] for r in graded) / len(graded)
            lines.append(f"{e:<{width}}  {mean:7.2f}  {batch.course.exercise(e).points:7.2f}")
        mean_total = sum(r.total for r in graded) / len(graded)
        lines.append(f"{'total':<{width}}  {mean_total:7.2f}  {max(r.max_total for r in graded):7.2f}")
    timed = sorted(((r.get("execution_time", 0.0), s) for s, r in batch.results.items()
                    if s not in batch.skipped and r.get("execution_time", 0.0) > 0), reverse=True)[:5]
    if timed:
        lines += ["", "Slowest: " + ", ".join(f"{s} {t:.1f} s" for t, s in timed)]
    if failures:
        lines += ["", "Could not grade:"] + [f"  {s}: {why.splitlines()[0]}" for s, why in failures.items()]
    lines += ["", f"Results:   {batch.results_dir}/<student>.json", f"Grades:    {batch.out / 'grades.csv'}"]
    if (batch.out / "gradebook.db").exists():
        lines.append(f"Gradebook: {batch.out / 'gradebook.db'} (nbgrader)")
    return "\n".join(lines)


def write_report_files(out: Path, problems: list[str], images=None) -> bool:
    """Render feedback/ and summary.html; a failure becomes a problem, the grades are already written.

    `images`: the summary's plots being drawn aside (report.images_aside).
    """
    from autograder.reports import report

    try:
        report.write_reports(out, problems=problems, images=images)
    except Exception as e:  # noqa: BLE001 - the reports can be rendered again with `dlgrade report`
        problems.append(f"feedback and summary.html not written: {type(e).__name__}: {e}; "
                        f"run `dlgrade report {out}` once it is fixed")
        return False
    return True


def warm_up(modules: list[str]):
    """Import what the end of the run needs (nbgrader, matplotlib: seconds) in a thread, while the class is graded."""
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - whoever needs it reports it, when it runs
                pass

    thread = threading.Thread(target=load, name="dlgrade-warm-up", daemon=True)
    thread.start()
    return thread


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        exercises = exercises_from(args)
        folder = coursedir.find(getattr(args, "course_dir", None))
        args.course = coursedir.course_file(args.course, folder)
        course = load(args.course)
        deadline_of(course.grading)
        exercises, without = with_suites(exercises, explicit=bool(args.only))
        check_cnn_options(args, exercises)
    except (ValueError, ConfigError) as e:
        print(f"dlgrade grade: {e}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print("dlgrade grade: --jobs must be at least 1", file=sys.stderr)
        return 2
    problem = submissions_problem(args.submissions, args.out)
    if problem:
        print(f"dlgrade grade: {problem}", file=sys.stderr)
        return 2
    from autograder.sandbox.client import bwrap_available

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
    from autograder.sandbox.cnn import DeviceError

    try:
        devices = device_env(args, exercises, sandbox)
    except DeviceError as e:
        print(f"dlgrade grade: {e}", file=sys.stderr)
        return 2
    from autograder.grading.pool import DaskPool, LocalPool, PoolError

    try:
        pool = DaskPool(args.dask) if args.dask else LocalPool(args.jobs)
    except PoolError as e:
        print(f"dlgrade grade: {e}", file=sys.stderr)
        return 2
    if without:
        print(f"dlgrade grade: no grading suites yet for {', '.join(without)}; not graded", file=sys.stderr)
    print(f"{folder.describe()}; course.toml: {args.course or 'none, the defaults'}")
    batch = Batch(args, exercises, course, sandbox, pool)
    batch.env.update(devices)
    batch.strays = strays(args.submissions)
    reporting = not getattr(args, "no_report", False)
    warming = warm_up(["nbgrader.api", *(["autograder.reports.report"] if reporting else [])])
    try:
        batch.run()
    finally:
        pool.close(cancel=batch.interrupted)
    if batch.interrupted:
        print(f"dlgrade grade: interrupted; {len(batch.results)} result(s) kept in {batch.results_dir}. "
              "Run again with --resume to grade the rest.", file=sys.stderr)
        return 130
    images = None
    if reporting:
        warming.join()  # its imports are needed now; and a child is forked only beside no other thread
        from autograder.reports import report

        images = report.images_aside(args.out)  # the summary's plots, drawn while the gradebook and feedback are written
    problems = batch.write_class_files()
    reported = reporting and write_report_files(args.out, problems, images)
    print(summary(batch, time.monotonic() - started))
    if reported:
        print(f"Feedback:  {args.out / 'feedback'}/<student>.html and .md\nSummary:   {args.out / 'summary.html'}")
    if getattr(args, "similarity", False):
        from autograder.reports import similarity

        similarity.after_grading(args.out, args.submissions, exercises, problems)
    failures = sorted(s for s, r in batch.results.items() if r.get("extra_data", {}).get("could_not_grade"))
    for student in failures:
        reason = batch.results[student]["extra_data"]["could_not_grade"]
        print(f"dlgrade grade: could not grade {student}: {reason}", file=sys.stderr)
    for problem in problems:
        print(f"dlgrade grade: {problem}", file=sys.stderr)
    return 1 if failures or problems else 0
