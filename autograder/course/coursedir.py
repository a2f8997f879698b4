"""The course folder (course.toml, solutions/, exercises/, dist/), found as git finds its root.

Resolved `--course-dir` -> $DLGRADE_COURSE_DIR -> the nearest folder holding a course.toml,
from the current folder upwards -> (where allowed) the project the grader runs from. Never
from where the package is installed first: a second checkout sharing one venv is its own
course, and `dlgrade release` run there writes there.
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

ENV = "DLGRADE_COURSE_DIR"
MARKER = "course.toml"
INSTALLED = Path(__file__).resolve().parents[2]  # the project tree this grader runs from


class CourseDirError(ValueError):
    """No usable course folder; the message says where the bad value came from and what to do."""


@dataclass(frozen=True)
class CourseDir:
    """A course folder and how it was chosen (said to the user: which course a command works on)."""

    root: Path
    how: str

    @property
    def course_toml(self) -> Path:
        return self.root / MARKER

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    @property
    def bundle(self) -> Path:
        return self.root / "dist" / "student"

    @property
    def grader(self) -> Path:
        """The course's own grader package when it has one (a project checkout), else the running one."""
        own = self.root / "autograder"
        return own if (own / "suites" / "public").is_dir() else INSTALLED / "autograder"

    @property
    def public_suites(self) -> Path:
        return self.grader / "suites" / "public"

    @property
    def vectors(self) -> Path:
        return self.public_suites / "data"

    def describe(self) -> str:
        return f"course folder: {self.root} ({self.how})"

    def foreign_grader(self) -> str:
        """A note when the grader running is another checkout's ('' when it is this course's own)."""
        running = INSTALLED / "autograder"
        if self.grader == running or not (self.root / "autograder").is_dir():
            return ""
        return (f"note: the grader running is {running}, not this course folder's autograder/; "
                f"its code (and dlref's) is what runs")


def add_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--course-dir", type=Path, metavar="DIR",
                        help=f"the course folder (default: ${ENV}, else the nearest folder with a {MARKER}, "
                             "from the current folder upwards)")


def find(explicit: str | os.PathLike | None = None, *, start: Path | None = None, fallback: bool = True) -> CourseDir:
    """The course folder; CourseDirError when none can be used.

    `fallback`: with no course.toml above `start`, use the project the grader runs from (when it
    has one) or, failing that, `start` itself with course.toml's defaults. Commands that write
    into the course (release) pass False: writing into another checkout is the mistake to avoid.
    """
    for value, where in ((explicit, "--course-dir"), (os.environ.get(ENV) or None, f"${ENV}")):
        if value is None:
            continue
        root = Path(value).expanduser()
        if not root.is_dir():
            raise CourseDirError(f"{where} {value}: no such folder; name the folder that holds {MARKER}")
        if not (root / MARKER).is_file():
            raise CourseDirError(f"{where} {value}: there is no {MARKER} in it; name the folder that holds "
                                 f"{MARKER}, solutions/ and exercises/")
        return CourseDir(root.resolve(), f"from {where}")
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return CourseDir(folder, "the nearest course.toml from the current folder")
    if fallback and (INSTALLED / MARKER).is_file():
        return CourseDir(INSTALLED, f"where the grader is installed: no {MARKER} in {here} or above")
    if fallback:
        return CourseDir(here, f"no {MARKER} in it or above: course.toml's defaults")
    raise CourseDirError(f"no {MARKER} in {here} or any folder above it: run this inside the course folder "
                         f"or pass --course-dir")


def course_file(course: str | os.PathLike | None, folder: CourseDir) -> Path | None:
    """course.toml to load: --course, else $DLGRADE_COURSE, else the course folder's (None: the defaults)."""
    if course:
        return Path(course)
    if os.environ.get("DLGRADE_COURSE"):
        return Path(os.environ["DLGRADE_COURSE"])
    return folder.course_toml if folder.course_toml.is_file() else None
