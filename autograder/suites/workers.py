"""The session's sandboxed workers: one per submission, or one per exercise view (isolated), killed between views."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder.course import config as course_config
from autograder.grading.reuse import rounds_of
from autograder.suites.student import Student


class _Workers:
    """The session's workers: one for the whole submission, or one per exercise (isolated).

    Isolated, `submission` is either a student's folder, whose per-exercise views are made
    here (mode "1"), or already a folder of views, `<submission>/<exercise>/` (mode "views":
    `dlgrade grade` bundles views of several students into one session), or of rounds of views,
    `<submission>/<k>/<exercise>/` (the suites run once per round, see pytest_runtestloop).
    Each view's worker is killed, with anything it left running, before the next view's
    starts: one view's code can never slow down, or take processes from, another's.
    """

    def __init__(self, submission: Path, course: course_config.Course, sandbox: str, isolate: str, tmp: Path,
                 check: bool = False):
        self.submission, self.course, self.sandbox, self.isolate, self.tmp = submission, course, sandbox, isolate, tmp
        self.check = check  # dlgrade check: hangs stopped by CPU time, and said once per function
        self.current: tuple[tuple[int, str] | str, Student] | None = None
        self.workers: list = []
        self._files: dict | None = None
        self.rounds = rounds_of(submission) if isolate == "views" else [submission]
        self.round = 0
        self.launcher = None  # forks the views' workers (sandbox/launcher.py), made at the first view

    def _launcher(self):
        """The session's launcher, where one can be used (bubblewrap as root), else None."""
        if self.launcher is None and self.sandbox != "none":
            from autograder.sandbox import launcher

            if launcher.wanted():
                self.launcher = launcher.Launcher(worker_limits(self.course.limits))
        return self.launcher

    def folder_for(self, exercise: str) -> Path:
        if not self.isolate:
            return self.submission
        views = self.rounds[self.round]
        if self.isolate == "views" and (views / exercise).is_dir():
            return views / exercise
        from autograder.grading import reuse
        from autograder.grading.packing import pack, unpack

        folder = self.tmp / (f"{self.round}-{exercise}" if self.isolate == "views" else exercise)
        if folder.is_dir():  # its tests came round again (public and hidden files apart): the same view
            return folder
        folder.mkdir()
        if self.isolate == "views":
            return folder  # no view of this exercise: nothing submitted
        if self._files is None:
            self._files = pack(self.submission) if self.submission.is_dir() else {}
        return unpack(reuse.view(self._files, exercise), folder)

    def key(self, exercise: str):
        return (self.round, exercise) if self.isolate else ""

    def proxy(self, exercise: str) -> Student:
        key = self.key(exercise)
        if self.current is None or self.current[0] != key:
            from autograder.sandbox.client import Worker

            if self.current is not None:
                self.current[1].worker.close()
            worker = Worker(self.folder_for(exercise), limits=worker_limits(self.course.limits),
                            sandbox=self.sandbox, uid=worker_uid(), launcher=self._launcher())
            self.workers.append(worker)
            proxy = Student(worker, test_budget=self.course.limits.test_timeout_s)
            proxy.hung_once = self.check
            self.current = (key, proxy)
        return self.current[1]

    def call_cpu(self, item: pytest.Item) -> float | None:
        """CPU seconds one call of this test may use (None: only the wall-clock limit)."""
        seconds = self.course.limits.check_call_cpu_s
        if not self.check or not seconds or item.get_closest_marker("slow_calls"):
            return None
        return seconds

    def new_test(self, exercise: str) -> None:
        if self.current is not None and self.current[0] == self.key(exercise):
            self.current[1].new_test()

    def retry(self, exercise: str) -> None:
        """The test runs again (under hypothesis, after a failed replay): its time budget starts again."""
        if self.current is not None and self.current[0] == self.key(exercise):
            self.current[1].retry()

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        if self.launcher is not None:
            self.launcher.close()


def worker_uid() -> int:
    """The uid sandboxed workers drop to: $DLGRADE_WORKER_UID (distinct per parallel grading slot), else nobody."""
    value = os.environ.get("DLGRADE_WORKER_UID", "")
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else 65534


def worker_limits(limits: course_config.Limits):
    """course.toml's [limits] as the sandbox's Limits."""
    from autograder.sandbox.client import Limits

    return Limits(
        address_space=limits.memory_mb * 2**20,
        cpu_seconds=limits.cpu_seconds,
        processes=limits.max_processes,
        file_size=limits.max_file_mb * 2**20,
        timeout=limits.call_timeout_s,
        output_bytes=limits.output_kb * 2**10,
    )
