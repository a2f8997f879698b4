"""The scheduling of one run: prepared submissions (jobs), their views bundled into tasks, results as they finish."""
from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

from autograder.grading import gradebook
from autograder.grading import reuse
from autograder.course.config import KERAS_EXERCISES, Course
from autograder.grading.late import deadline_of, lateness, submitted_at
from autograder.grading.progress import Progress
from autograder.grading.results import SubmissionResult, TestResult, write_json_atomic, write_text_atomic
from autograder.grading.submissions import BadSubmission, find_entries, pack, prepare, unpack
from autograder.grading import options
from autograder.grading.options import course_hash, course_text, options_of, submission_timeout, suite_env
from autograder.grading.runner import FORK
from autograder.grading.task import EXAMPLES_KEY, failed, grade_task, read_result, up_to_date

# Views of one exercise a bundled task grades (in rounds of one session): start-ups paid once for them.
# Fewer near the end of a run (Batch.dispatch), so that the slots finish together.
ROUNDS = 12
PREPARE_FIRST = 4  # submissions per grading slot prepared before the first tasks start


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


def open_task(tasks: list[Task], free: int, takes) -> Task | None:
    """The first of `tasks` that `takes`, else a new one (added to `tasks`) while a slot is free."""
    task = next((t for t in tasks if takes(t)), None)
    if task is None and len(tasks) < free:
        task = Task([])
        tasks.append(task)
    return task


class Batch:
    """One run of `dlgrade grade`: submissions in, results files as they finish, class files at the end."""

    def __init__(self, args: argparse.Namespace, exercises: list[str], course: Course, sandbox: str, pool):
        self.args, self.exercises, self.course, self.sandbox, self.pool = args, exercises, course, sandbox, pool
        self.out: Path = args.out
        self.results_dir = self.out / "results"
        self.version = options.grader_version()
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
        self.unprepared = 0  # submissions not prepared yet (Batch.run), for the end-of-run task sizes
        # Hypothesis examples recorded once and replayed (autograder/grading/replay.py): under OUT here; a
        # machine of a Dask cluster keeps its own under its temporary folder.
        self.examples_key = None if getattr(args, "no_replay", False) else hashlib.sha256(
            f"{self.version}\0{self.course_hash}".encode()).hexdigest()[:16]

    def key(self, content_hash: str, when: str) -> dict:
        return {"content_hash": content_hash, "grader_version": self.version, "course_hash": self.course_hash,
                "exercises": list(self.exercises), "options": self.options, "submitted_at": when}

    def resources(self, exercises: list[str]) -> dict | None:
        """Dask resources a task needs: a GPU for a CNN task when --device gpu."""
        if set(KERAS_EXERCISES) & set(exercises) and getattr(self.args, "device", None) == "gpu":
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
                self.unprepared = len(pending)
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
        # Near the end of the run, a task takes no more than its share of the views left, so that a slot
        # does not sit idle while the last big task runs in the other (seconds, on a small machine).
        cap = {e: max(1, min(ROUNDS, -(-(n + self.unprepared) // self.pool.slots)))
               for e, n in self.views_left(waiting, busy).items()}
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
                    task = open_task(tasks, free, lambda t: not t.views)
                    if task is not None:
                        task.views.append((e, job))
                        task.closed = True
                        job.inflight.add(e)
                    continue
                if first_wave:
                    task = tasks[self.exercises.index(e) % free]
                    task = task if not task.closed and task.count(e) < ROUNDS else None
                else:
                    task = open_task(tasks, free, lambda t: not t.closed and t.count(e) < cap[e])
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
                {**self.env, **({"DLGRADE_ISOLATE": "views"} if self.store else {}), **self.examples_env(),
                 **self.fork_env()},
                key=f"dlgrade-{owners[0].student}-{uuid.uuid4().hex[:8]}", resources=self.resources(exercises),
            )
            running[future] = task
        return left

    def views_left(self, waiting: list[Job], busy: set) -> dict[str, int]:
        """Exercise -> views still to grade for the waiting jobs: each shared view once, none being graded or stored."""
        left = dict.fromkeys(self.exercises, 0)
        seen = set(busy)
        for job in waiting:
            for e in self.exercises:
                if e in job.tests or e in job.inflight:
                    continue
                key = job.keys.get(e)
                if key is not None:
                    if (e, key) in seen or self.known.get((e, key)) is not None:
                        continue
                    seen.add((e, key))
                left[e] += 1
        return left

    def unrecorded(self) -> bool:
        """Whether the tasks will find no recorded examples (on a Dask cluster: not known, so assumed)."""
        if self.examples_key is None:
            return False
        folder = self.out / ".examples" / self.examples_key
        return self.pool.ships_files or not folder.is_dir() or not any(folder.iterdir())

    def fork_env(self) -> dict[str, str]:
        """Local slots fork their trusted sessions from a preloaded server (trusted_fork.py; $DLGRADE_TRUSTED_FORK=0: off)."""
        if self.pool.ships_files or os.environ.get(FORK, "1") == "0":
            return {}
        return {FORK: "1"}

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
