"""`dlgrade grade`: grade every submission with the full (hidden) suites, in parallel and resumably.

Each student's results file is written atomically as soon as it is graded and records what it
was graded from (submission content hash, grader version, course.toml hash, exercises), so
`--resume` after a crash or a kill grades only what is missing or changed. grades.csv and
gradebook.db are rebuilt from the results at the end of every run.
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from autograder.course import coursedir
from autograder.grading import gradebook
from autograder.grading import reuse
from autograder.course.config import EXERCISES, ConfigError, Course, default_path, load
from autograder.grading.late import deadline_of, lateness, submitted_at
from autograder.grading.progress import Progress, clock
from autograder.grading.results import SubmissionResult, TestResult, write_json_atomic, write_text_atomic
from autograder.grading.runner import GradingFailed, run_suites, suite_files
from autograder.grading.submissions import BadSubmission, find_entries, pack, prepare, strays, unpack

PACKAGE_DIRS = ("autograder", "dlref")
EXAMPLES_KEY = "DLGRADE_EXAMPLES_KEY"  # a task's recordings key, when it runs on another machine
# Views of one exercise a bundled task grades (in rounds of one session): start-ups paid once for them.
ROUNDS = 3
PREPARE_FIRST = 4  # submissions per grading slot prepared before the first tasks start
SOURCE_SUFFIXES = (".py", ".json", ".ini", ".toml")


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


def exercises_from(args: argparse.Namespace) -> list[str]:
    """The exercises to grade after --only/--skip; ValueError naming an unknown one."""
    chosen = args.only.split(",") if args.only else list(EXERCISES)
    skipped = args.skip.split(",") if args.skip else []
    for name in chosen + skipped:
        if name not in EXERCISES:
            raise ValueError(f"unknown exercise {name!r}; choose from {', '.join(EXERCISES)}")
    return [e for e in chosen if e not in skipped]


def with_suites(exercises: list[str], explicit: bool) -> tuple[list[str], list[str]]:
    """(exercises that have grading suites, those without); an explicitly chosen one without suites is an error."""
    have = [e for e in exercises if suite_files([e], hidden=True)]
    missing = [e for e in exercises if e not in have]
    if missing and explicit:
        raise ValueError(f"no grading suites for {', '.join(missing)}")
    if not have:
        raise ValueError("no exercise left to grade")
    return have, missing


@functools.lru_cache(maxsize=None)
def grader_version() -> str:
    """The package version and a hash of the grader's and the reference's sources."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        base = version("dlgrade")
    except PackageNotFoundError:
        base = "0+unknown"
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in PACKAGE_DIRS:
        for path in sorted((root / package).rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file():
                h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"{base}+{h.hexdigest()[:16]}"


def course_hash(course: Course) -> str:
    """Hash of the parsed course.toml (comments and layout do not count)."""
    text = json.dumps(dataclasses.asdict(course), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def course_text(args: argparse.Namespace) -> str:
    """The course.toml the run uses, as text (shipped to every grading task; '' means the defaults)."""
    path = Path(args.course) if args.course else default_path()
    return path.read_text() if path.is_file() else ""


def suite_env(args: argparse.Namespace) -> dict[str, str]:
    """DLGRADE_* settings passed to every grading process (options of other commands may add to it)."""
    from autograder.sandbox.cnn import ENV_BUDGET, ENV_DEVICE

    env = {}
    if getattr(args, "cnn_budget", None) is not None:
        env[ENV_BUDGET] = repr(float(args.cnn_budget))
    if getattr(args, "device", None) is not None:
        env[ENV_DEVICE] = args.device
    return env


def submission_timeout(args: argparse.Namespace, course: Course, exercises: list[str]) -> float:
    """course.toml's submission_timeout_s, raised when the CNN's training budget needs more.

    The CNN alone takes its budget (plus a grace period) to train and up to about as long again
    (and a few minutes) to start TensorFlow, run the public checks and evaluate the model.
    """
    timeout = course.limits.submission_timeout_s
    if "cnn" in exercises:
        budget = getattr(args, "cnn_budget", None) or max(course.cnn.budget_cpu_s, course.cnn.budget_gpu_s)
        timeout = max(timeout, 2 * budget + 600.0)
    return timeout


def check_cnn_options(args: argparse.Namespace, exercises: list[str]) -> None:
    """ValueError for a bad --cnn-budget, or --device gpu on a machine without an NVIDIA GPU."""
    budget = getattr(args, "cnn_budget", None)
    if budget is not None and not 0 < budget < 1e6:
        raise ValueError(f"--cnn-budget {budget:g}: expected a number of seconds > 0")
    if "cnn" in exercises and getattr(args, "device", None) == "gpu" and not getattr(args, "dask", None):
        from autograder.sandbox.cnn import nvidia_devices

        if not nvidia_devices():
            raise ValueError("--device gpu was requested, but this machine has no NVIDIA GPU (no /dev/nvidia* "
                             "device files); grade with --device cpu or --device auto")


def device_env(args: argparse.Namespace, exercises: list[str], sandbox: str) -> dict[str, str]:
    """The CNN's device, probed once here before anyone is graded, for every grading process.

    DeviceError when --device gpu cannot be had (the run stops before grading anyone). With
    --device auto and a GPU that cannot train (say, no ptxas in the sandbox), the CNN trains on
    the CPU and the reason is printed here and noted in every CNN result. On a Dask cluster
    each machine probes its own devices, so nothing is resolved here.
    """
    if "cnn" not in exercises or getattr(args, "dask", None):
        return {}
    from autograder.sandbox.cnn import ENV_PLAN, plan_device

    plan = plan_device(getattr(args, "device", None) or "auto", sandbox=sandbox)
    if plan.note:
        print(f"dlgrade grade: the GPU is not used: {plan.note}; the CNN trains on the CPU", file=sys.stderr)
    return {ENV_PLAN: plan.to_env()}


def options_of(args: argparse.Namespace) -> dict:
    """Command-line choices besides the exercises that change grades (recorded for --resume)."""
    return {k: getattr(args, k) for k in ("device", "cnn_budget") if getattr(args, k, None) is not None}


def failed(student: str, reason: str, sandboxed: bool = True) -> dict:
    """The results dict of a submission that could not be graded."""
    return SubmissionResult(student=student, could_not_grade=reason, sandboxed=sandboxed).to_dict()


def grade_task(student: str, source, exercises: list[str], sandbox: str, course_toml: str,
               timeout: float | None, env: dict[str, str]) -> dict:
    """Grade one prepared submission (a folder path, or packed files from another machine); never raises.

    Runs in a local pool slot or on a Dask worker; returns the results dict plus the grader
    version of the machine it ran on.
    """
    from autograder.grading.pool import worker_uid

    if EXAMPLES_KEY in env:  # on a machine of a Dask cluster: its own recordings
        env = dict(env)
        env["DLGRADE_EXAMPLES"] = str(Path(tempfile.gettempdir()) / f"dlgrade-examples-{env.pop(EXAMPLES_KEY)}")
    start = time.monotonic()
    result = SubmissionResult(student=student, sandboxed=sandbox != "none")
    rounds = None
    try:
        with tempfile.TemporaryDirectory(prefix="dlgrade-task-") as tmp, worker_uid() as uid:
            if sandbox == "bwrap":
                from autograder.sandbox.client import bwrap_problem

                problem = bwrap_problem()
                if problem:
                    raise GradingFailed(f"cannot sandbox student code on {os.uname().nodename}: {problem}")
            if isinstance(source, dict):
                folder = Path(tmp) / "submission"
                folder.mkdir()
                unpack(source, folder)
            else:
                folder = Path(source)
            course = Path(tmp) / "course.toml"
            course.write_text(course_toml)
            data = run_suites(folder, exercises, hidden=True, sandbox=sandbox, course=course, timeout=timeout,
                              env={**env, "DLGRADE_WORKER_UID": str(uid)})
            result.tests = [TestResult.from_dict(t) for t in data["tests"]]
            rounds = data.get("rounds")
            result.sandboxed = data.get("sandboxed", result.sandboxed)
            broken = [t.name for t in result.tests if t.grader_error]
            if broken:
                result.could_not_grade = f"the grader failed on {len(broken)} test(s): {', '.join(broken[:3])}"
            elif not result.tests:
                result.could_not_grade = "the grading run produced no test results"
    except GradingFailed as e:
        result.could_not_grade = str(e)
    except Exception as e:  # a new way to break the grader: this student only, never the batch
        result.could_not_grade = f"the grader failed: {type(e).__name__}: {e}"
    result.execution_time = time.monotonic() - start
    out = result.to_dict()
    out["extra_data"]["grader_version"] = grader_version()
    if rounds and len(rounds) == len(out["tests"]):
        out["extra_data"]["rounds"] = rounds  # whose view each test graded (Batch.collect)
    return out


def read_result(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def up_to_date(result: dict | None, key: dict) -> bool:
    """Whether a stored result was graded from the same files, grader, course.toml and choices, completely."""
    if not result:
        return False
    extra = result.get("extra_data", {})
    return extra.get("grading") == key and not extra.get("could_not_grade") and bool(result.get("tests"))


@dataclasses.dataclass
class Job:
    """A prepared submission: what is known of its exercises' results, and what is being graded."""

    student: str
    meta: dict
    folder: Path
    jobdir: Path
    files: dict  # the prepared folder's files (submissions.pack), to make its views from
    # exercise -> reuse key of its view, for views that may be shared (reuse.keys): none when reuse
    # is off, and none for an exercise never reused, whose view is the student's alone.
    keys: dict[str, str]
    tests: dict[str, list[dict]] = dataclasses.field(default_factory=dict)  # exercise -> graded tests
    reused: list[str] = dataclasses.field(default_factory=list)  # exercises whose tests came from the store
    inflight: set[str] = dataclasses.field(default_factory=set)  # exercises a running task grades
    seconds: float = 0.0  # its share of the grading tasks' time
    failures: list[str] = dataclasses.field(default_factory=list)  # why a task of its own could not grade
    extras: list[dict] = dataclasses.field(default_factory=list)  # extra_data of the tasks it was part of
    alone: bool = False  # a task bundling it with others failed: grade it in tasks of its own


@dataclasses.dataclass
class Task:
    """One grading task: views of exercises, each from one job (several jobs when reuse bundles them).

    The k-th view of an exercise is graded in round k of the task's session (plugin.py): a
    folder `<k>/<exercise>/` per view.
    """

    views: list[tuple[str, Job]]  # (exercise, the job whose view of it is graded)
    folder: Path | None = None  # the views' folder, when bundled
    closed: bool = False  # takes no more views (a job graded alone, or without reuse)

    def owners(self) -> list[Job]:
        return list({id(j): j for _, j in self.views}.values())

    def exercises(self) -> set[str]:
        return {e for e, _ in self.views}

    def count(self, exercise: str) -> int:
        return sum(1 for e, _ in self.views if e == exercise)

    def rounds(self) -> list[tuple[int, str, Job]]:
        """(round, exercise, job) of every view."""
        seen: dict[str, int] = {}
        out = []
        for e, job in self.views:
            out.append((seen.get(e, 0), e, job))
            seen[e] = seen.get(e, 0) + 1
        return out


class Batch:
    """One run of `dlgrade grade`: submissions in, results files as they finish, class files at the end."""

    def __init__(self, args: argparse.Namespace, exercises: list[str], course: Course, sandbox: str, pool):
        self.args, self.exercises, self.course, self.sandbox, self.pool = args, exercises, course, sandbox, pool
        self.out: Path = args.out
        self.results_dir = self.out / "results"
        self.version = grader_version()
        self.course_hash = course_hash(course)
        self.course_toml = course_text(args)
        self.env = suite_env(args)
        self.options = options_of(args)
        self.results: dict[str, dict] = {}
        self.skipped: list[str] = []
        self.interrupted = False
        # Views graded once per class (autograder/grading/reuse.py); the CNN never is.
        self.store = None if getattr(args, "no_reuse", False) else reuse.Store(self.out / ".reuse")
        self.reuse_salt = {"grader": self.version, "course": self.course_hash, "options": self.options,
                           "sandbox": sandbox}
        self.known: dict[tuple[str, str], list[dict] | None] = {}
        self.dispatched = 0  # tasks started
        # Hypothesis examples recorded once and replayed (autograder/grading/replay.py): under OUT here; a
        # machine of a Dask cluster keeps its own under its temporary folder.
        self.examples_key = None if getattr(args, "no_replay", False) else hashlib.sha256(
            f"{self.version}\0{self.course_hash}".encode()).hexdigest()[:16]

    def key(self, content_hash: str, when: str) -> dict:
        return {"content_hash": content_hash, "grader_version": self.version, "course_hash": self.course_hash,
                "exercises": list(self.exercises), "options": self.options, "submitted_at": when}

    def resources(self, exercises: list[str]) -> dict | None:
        """Dask resources a task needs: a GPU for a CNN task when --device gpu."""
        if "cnn" in exercises and getattr(self.args, "device", None) == "gpu":
            return {"GPU": 1}
        return None

    def record(self, student: str, result: dict, meta: dict, progress: Progress, timed: bool = False) -> None:
        """Add what the run knows about the submission and write results/<student>.json atomically."""
        extra = result.setdefault("extra_data", {})
        version = extra.pop("grader_version", self.version)
        if "key" in meta:
            extra["grading"] = {**meta["key"], "grader_version": version}
        extra["submission"] = meta.get("submission", {})
        late = meta.get("late")
        if late is not None:
            extra["late"] = late
        notes = extra["submission"].get("notes", [])
        if notes and not result.get("output"):
            result["output"] = "; ".join(notes)
        write_json_atomic(self.results_dir / f"{student}.json", result)
        self.results[student] = result
        if extra.get("could_not_grade"):
            line = "could not grade: " + extra["could_not_grade"].splitlines()[0]
        else:
            line = f"{result['score']:.2f} / {extra.get('max_score', 0):.2f} in {result.get('execution_time', 0):.1f} s"
        progress.finished(student, line, timed)

    def run(self) -> None:
        entries = find_entries(self.args.submissions)
        self.entries = entries
        for stale in self.results_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)  # left by a killed run
        progress = Progress(len(entries))
        progress.note(f"grading {len(entries)} submission(s) ({', '.join(self.exercises)}) with {self.pool.describe()}")
        workdir = Path(tempfile.mkdtemp(prefix="dlgrade-grade-"))
        running: dict = {}
        pending = collections.deque(enumerate(entries.items()))

        def prepare_next(n: int) -> list[Job]:
            batch = [pending.popleft() for _ in range(min(n, len(pending)))]
            return [job for i, (student, entry) in batch
                    if (job := self.prepare(student, entry, workdir / f"{i:06d}", progress)) is not None]

        try:
            # Grading starts once the first submissions are prepared; the rest are prepared
            # (unpacked, hashed) while it runs, a few between looks at the tasks.
            waiting = prepare_next(PREPARE_FIRST * self.pool.slots)
            while waiting or pending:
                waiting = self.dispatch(waiting, running, progress, workdir)
                if pending:
                    waiting += prepare_next(self.pool.slots)
                    finished = [f for f in running if f.done()]  # local and Dask futures alike
                else:
                    finished = self.pool.wait_first(list(running))
                for future in finished:
                    task = running.pop(future)
                    try:
                        result = future.result()
                    except Exception as e:  # the task itself died (e.g. a Dask worker was lost)
                        result = failed(task.owners()[0].student, f"the grading task failed: {type(e).__name__}: {e}",
                                        self.sandbox != "none")
                    self.collect(task, result)
        except KeyboardInterrupt:
            self.interrupted = True
            self.pool.close(cancel=True)
        finally:
            progress.close()
            shutil.rmtree(workdir, ignore_errors=True)

    def dispatch(self, waiting: list[Job], running: dict, progress: Progress, workdir: Path) -> list[Job]:
        """Record the jobs now complete and start tasks for what no task grades yet; returns the jobs left.

        With reuse, a view being graded for one student is waited for by the others who share
        it (so each distinct file is graded once), and the views still to grade are bundled,
        one per exercise, into as few tasks as there are free slots, in the students' order:
        a task's start-up (a Python with pytest and hypothesis) is paid once for up to seven
        views. Each view runs in its own worker, killed before the next view's starts.
        """
        busy = {(e, job.keys[e]) for task in running.values() for e, job in task.views if e in job.keys}
        free = self.pool.slots - len(running)
        # The first tasks of a run find no recorded examples (replay.py): each generates them for
        # the tests it runs. Each exercise in one of them only, they are generated once.
        first_wave = not self.dispatched and self.store is not None and self.unrecorded() and 1 < free <= len(self.exercises)
        tasks: list[Task] = [Task([]) for _ in range(free)] if first_wave else []
        left = []
        for job in waiting:
            for e in self.exercises:
                if e not in job.tests and e in job.keys and (tests := self.stored(e, job.keys[e])) is not None:
                    job.tests[e] = tests
                    job.reused.append(e)
            missing = [e for e in self.exercises if e not in job.tests]
            if not missing and not job.inflight:
                self.finish(job, progress)
                continue
            left.append(job)
            todo = [e for e in missing if e not in job.inflight and (e not in job.keys or (e, job.keys[e]) not in busy)]
            if not todo:
                continue
            if self.store is None or job.alone:
                if len(tasks) < free:
                    tasks.append(Task([(e, job) for e in todo], closed=True))
                    job.inflight.update(todo)
                continue
            for e in todo:
                if e not in job.keys:
                    # A view of the student's alone (never reused: the CNN's training run) is graded
                    # in a task of its own: nothing to share, and no view waits minutes behind it.
                    task = next((t for t in tasks if not t.views), None)
                    if task is None and len(tasks) < free:
                        task = Task([])
                        tasks.append(task)
                    if task is not None:
                        task.views.append((e, job))
                        task.closed = True
                        job.inflight.add(e)
                    continue
                if first_wave:
                    task = tasks[self.exercises.index(e) % free]
                    task = task if not task.closed and task.count(e) < ROUNDS else None
                else:
                    task = next((t for t in tasks if not t.closed and t.count(e) < ROUNDS), None)
                    if task is None and len(tasks) < free:
                        task = Task([])
                        tasks.append(task)
                if task is not None:
                    task.views.append((e, job))
                    job.inflight.add(e)
                    busy.add((e, job.keys[e]))
        tasks = [t for t in tasks if t.views]
        self.dispatched += len(tasks)
        for task in tasks:
            owners = task.owners()
            exercises = [e for e in self.exercises if e in task.exercises()]
            rounds = max(task.count(e) for e in exercises)
            if self.store is None:
                source = owners[0].folder
            else:
                task.folder = source = Path(tempfile.mkdtemp(prefix="task-", dir=workdir))
                listed: dict[int, list[str]] = {}
                for k, e, job in task.rounds():
                    unpack(reuse.view(job.files, e), source / str(k) / e)  # nothing, if the file was not submitted
                    listed.setdefault(k, []).append(e)
                for k, names in listed.items():
                    (source / str(k)).mkdir(parents=True, exist_ok=True)
                    (source / str(k) / reuse.ROUND_EXERCISES).write_text("\n".join(names) + "\n")
            label = owners[0].student if len(owners) == 1 else f"{owners[0].student} and {len(owners) - 1} more"
            future = self.pool.submit(
                grade_task, label, pack(source) if self.pool.ships_files else str(source), exercises, self.sandbox,
                self.course_toml, rounds * submission_timeout(self.args, self.course, exercises),
                {**self.env, **({"DLGRADE_ISOLATE": "views"} if self.store else {}), **self.examples_env()},
                key=f"dlgrade-{owners[0].student}-{uuid.uuid4().hex[:8]}", resources=self.resources(exercises),
            )
            running[future] = task
        return left

    def unrecorded(self) -> bool:
        """Whether the tasks will find no recorded examples (on a Dask cluster: not known, so assumed)."""
        if self.examples_key is None:
            return False
        folder = self.out / ".examples" / self.examples_key
        return self.pool.ships_files or not folder.is_dir() or not any(folder.iterdir())

    def examples_env(self) -> dict[str, str]:
        if self.examples_key is None:
            return {}
        if self.pool.ships_files:
            return {EXAMPLES_KEY: self.examples_key}
        return {"DLGRADE_EXAMPLES": str((self.out / ".examples" / self.examples_key).resolve())}

    def collect(self, task: Task, result: dict) -> None:
        """A task ended: give each job its views' tests and store the reusable ones.

        A task of several students that could not grade (e.g. it ran past its time limit)
        decides nothing for them: each is graded again in tasks of its own, so one
        submission never changes another's grade.
        """
        owners = task.owners()
        if task.folder is not None:
            shutil.rmtree(task.folder, ignore_errors=True)
        extra = result.get("extra_data", {})
        rounds = extra.pop("rounds", None)
        problem = extra.get("could_not_grade", "")
        if problem and len(owners) > 1:
            for e, job in task.views:
                job.inflight.discard(e)
                job.alone = True
            return
        tests = result.get("tests", [])
        if not isinstance(rounds, list) or len(rounds) != len(tests):
            rounds = [0] * len(tests)
        own: dict[tuple[int, str], list[dict]] = {}
        for k, t in zip(rounds, tests):
            own.setdefault((k, t["tags"][0]), []).append(t)
        for job in owners:
            job.seconds += result.get("execution_time", 0.0) / len(owners)
            job.extras.append(extra)
            if problem:
                job.failures.append(problem)
        for k, e, job in task.rounds():
            mine = own.get((k, e), [])
            job.inflight.discard(e)
            job.tests[e] = mine
            if not problem and e in job.keys and mine and self.store.put(
                    e, job.keys[e], mine, result.get("execution_time", 0.0) / len(task.views)):
                self.known[(e, job.keys[e])] = mine

    def prepare(self, student: str, entry, jobdir: Path, progress: Progress) -> Job | None:
        """Unpack and key one entry; None when it is settled here (refused, or unchanged under --resume)."""
        jobdir.mkdir()
        # The folder is recorded so that `dlgrade similarity OUT` can read the files again.
        meta: dict = {"submission": {"entry": ", ".join(p.name for p in entry.paths), "kind": entry.kind,
                                     "folder": str(Path(self.args.submissions).resolve())}}
        try:
            prepared = prepare(entry, jobdir)
            when, source, note = submitted_at(entry.paths[0], prepared.folder)
            files = pack(prepared.folder)
        except BadSubmission as e:
            self.record(student, failed(student, str(e), self.sandbox != "none"), meta, progress)
            return None
        except Exception as e:  # e.g. an unreadable file: this student only
            reason = f"could not read the submission: {type(e).__name__}: {e}"
            self.record(student, failed(student, reason, self.sandbox != "none"), meta, progress)
            return None
        meta["submission"].update(submitted_at=when.isoformat(), timestamp_source=source,
                                  notes=prepared.notes + ([note] if note else []))
        late = lateness(self.course.grading, when)
        meta["late"] = {"policy": self.course.grading.late_policy, "days_late": late.days_late,
                        "seconds_late": round(late.seconds_late, 3), "fraction": late.fraction}
        meta["key"] = self.key(prepared.content_hash, when.isoformat())
        previous = read_result(self.results_dir / f"{student}.json") if self.args.resume else None
        if up_to_date(previous, meta["key"]):
            self.results[student] = previous
            self.skipped.append(student)
            progress.skipped(student, "unchanged since its last grading (--resume)")
            shutil.rmtree(jobdir, ignore_errors=True)
            return None
        keys = reuse.keys(files, self.exercises, self.reuse_salt) if self.store else {}
        return Job(student, meta, prepared.folder, jobdir, files, keys)

    def stored(self, exercise: str, key: str) -> list[dict] | None:
        """Graded tests of this view, from this run or an earlier one (looked up once per key)."""
        if (exercise, key) not in self.known:
            self.known[(exercise, key)] = self.store.get(exercise, key)
        return self.known[(exercise, key)]

    def finish(self, job: Job, progress: Progress) -> None:
        """Assemble the student's results from the views graded for it and the reused ones; record them."""
        merged = SubmissionResult(
            student=job.student,
            tests=[TestResult.from_dict(t) for e in self.exercises for t in job.tests.get(e, [])],
            execution_time=job.seconds,
            could_not_grade="; ".join(dict.fromkeys(job.failures)),
            sandboxed=all(x.get("sandboxed", True) for x in job.extras) if job.extras else self.sandbox != "none",
        )
        out = merged.to_dict()
        out["extra_data"]["grader_version"] = next(
            (x["grader_version"] for x in job.extras if "grader_version" in x), self.version)
        out["extra_data"]["reused"] = job.reused
        # What its results took to grade, reused ones as when they were graded (reports chart this).
        out["extra_data"]["graded_seconds"] = round(
            job.seconds + sum(self.store.seconds(e, job.keys[e]) for e in job.reused), 3)
        self.record(job.student, out, job.meta, progress, timed=bool(job.extras))
        shutil.rmtree(job.jobdir, ignore_errors=True)

    def rows(self) -> list[gradebook.Row]:
        points = {e: self.course.exercise(e).points for e in self.exercises}
        return [gradebook.row_of(s, self.results[s], self.exercises, points) for s in sorted(self.results)]

    def write_class_files(self) -> list[str]:
        """grades.csv and gradebook.db; returns problems to report (none expected)."""
        problems = []
        write_text_atomic(self.out / "grades.csv", gradebook.csv_text(self.rows(), self.exercises))
        try:
            gradebook.write_gradebook(self.out / "gradebook.db", self.results, self.args.assignment,
                                      deadline_of(self.course.grading))
        except ImportError as e:
            problems.append(f"gradebook.db not written: nbgrader is not installed ({e}); pip install nbgrader")
        except Exception as e:
            problems.append(f"gradebook.db not written: {type(e).__name__}: {e}")
        return problems


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


def write_report_files(out: Path, problems: list[str]) -> bool:
    """Render feedback/ and summary.html; a failure becomes a problem, the grades are already written."""
    from autograder.reports import report

    try:
        report.write_reports(out, problems=problems)
    except Exception as e:  # noqa: BLE001 - the reports can be rendered again with `dlgrade report`
        problems.append(f"feedback and summary.html not written: {type(e).__name__}: {e}; "
                        f"run `dlgrade report {out}` once it is fixed")
        return False
    return True


def warm_up(modules: list[str]) -> None:
    """Import what the end of the run needs (nbgrader, matplotlib: seconds) in a thread, while the class is graded."""
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - whoever needs it reports it, when it runs
                pass

    threading.Thread(target=load, name="dlgrade-warm-up", daemon=True).start()


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
    warm_up(["nbgrader.api", *([] if getattr(args, "no_report", False) else ["autograder.reports.report"])])
    try:
        batch.run()
    finally:
        pool.close(cancel=batch.interrupted)
    if batch.interrupted:
        print(f"dlgrade grade: interrupted; {len(batch.results)} result(s) kept in {batch.results_dir}. "
              "Run again with --resume to grade the rest.", file=sys.stderr)
        return 130
    problems = batch.write_class_files()
    reported = False if getattr(args, "no_report", False) else write_report_files(args.out, problems)
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
