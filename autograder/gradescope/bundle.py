"""`dlgrade gradescope --out autograder.zip`: the Gradescope autograder bundle.

The bundle is the project's source (pyproject.toml, autograder/ with its suites and data, dlref/,
course.toml), not a wheel: the grader runs from a project tree (course.toml beside autograder/,
grade.grader_version hashes the tree), and the sandbox refuses to mount a Python installation that
holds the grader, which a regular install would put into the venv student code runs with.
setup.sh installs it editable into a venv of its own; run_autograder makes it root-only.

The zip is deterministic: sorted members, fixed times and modes, so the same sources give the
same bytes (its hash tells whether Gradescope has the current grader).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder.course import coursedir
from autograder.course.config import KERAS_EXERCISES, ConfigError, load

ROOT = Path(__file__).resolve().parents[2]
FILES = Path(__file__).resolve().parent / "files"
SCRIPTS = ("setup.sh", "run_autograder")
PACKAGES = ("autograder", "dlref")
TOP_FILES = ("pyproject.toml", "README.md")  # README.md: pyproject's `readme`, needed to install
SKIPPED_DIRS = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold: no build time in the bundle
ENV_FILE = "gradescope.env"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the bundle to write (a .zip in an existing folder)")
    parser.add_argument("--course", type=Path, help="course.toml to bundle (default: the course folder's)")
    coursedir.add_argument(parser)
    parser.add_argument("--only", help="comma-separated exercises the bundle grades (default: the numpy exercises)")
    parser.add_argument("--skip", help="comma-separated exercises it does not grade")
    parser.add_argument("--with-cnn", action="store_true",
                        help="also grade the CNN: installs TensorFlow (the `tf` extra) and needs bubblewrap in the "
                             "container (same as course.toml's [gradescope] with_cnn = true)")


def bundle_exercises(args: argparse.Namespace, with_cnn: bool) -> list[str]:
    """The exercises the bundle grades; ValueError naming a bad choice."""
    from autograder.grading.selection import exercises_from, with_suites

    chosen = exercises_from(args)
    explicit = set(args.only.split(",")) if args.only else set()
    if not with_cnn:  # a Keras exercise only when course.toml or --with-cnn asks, or --only names it
        chosen = [e for e in chosen if e not in KERAS_EXERCISES or e in explicit]
    return with_suites(chosen, explicit=True)[0]


def env_text(exercises: list[str]) -> str:
    """gradescope.env: what setup.sh installs and run_autograder grades (sourced by both)."""
    extras = "tf" if set(KERAS_EXERCISES) & set(exercises) else ""
    return ("# Written by `dlgrade gradescope`; sourced by setup.sh and run_autograder.\n"
            f'DLGRADE_EXTRAS="{extras}"\n'
            f'DLGRADE_EXERCISES="{",".join(exercises)}"\n')


def members(course: Path, exercises: list[str]) -> dict[str, tuple[bytes, int]]:
    """Bundle path -> (content, mode) for everything the zip holds."""
    out: dict[str, tuple[bytes, int]] = {}
    for name in SCRIPTS:
        out[name] = ((FILES / name).read_bytes(), 0o755)
    out[ENV_FILE] = (env_text(exercises).encode(), 0o644)
    out["course.toml"] = (course.read_bytes(), 0o644)
    for name in TOP_FILES:
        out[name] = ((ROOT / name).read_bytes(), 0o644)
    for package in PACKAGES:
        for dirpath, dirnames, filenames in os.walk(ROOT / package):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
            for name in filenames:
                if name.startswith(".") or name.endswith((".pyc", ".pyo")):
                    continue
                path = Path(dirpath) / name
                if path.is_symlink() or not path.is_file():
                    continue
                mode = 0o755 if os.access(path, os.X_OK) and path.parent == FILES else 0o644
                out[path.relative_to(ROOT).as_posix()] = (path.read_bytes(), mode)
    return out


def write_zip(out: Path, files: dict[str, tuple[bytes, int]]) -> None:
    """The zip, members sorted, fixed times and Unix modes; replaced in one step."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in sorted(files):
                data, mode = files[name]
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.create_system = 3  # Unix: unzip then honours the modes (run_autograder stays executable)
                info.external_attr = (0o100000 | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data, compresslevel=9)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    out: Path = args.out
    if out.suffix.lower() != ".zip":
        print(f"dlgrade gradescope: --out {out}: the bundle must be a .zip file (e.g. --out autograder.zip)",
              file=sys.stderr)
        return 2
    if not out.parent.resolve().is_dir():
        print(f"dlgrade gradescope: --out {out}: the folder {out.parent} does not exist; create it first",
              file=sys.stderr)
        return 2
    if out.is_dir():
        print(f"dlgrade gradescope: --out {out} is a folder; name a .zip file", file=sys.stderr)
        return 2
    try:
        folder = coursedir.find(getattr(args, "course_dir", None))
        course_path = coursedir.course_file(args.course, folder) or folder.course_toml
        print(f"{folder.describe()}; course.toml: {course_path}")
        course = load(course_path)
        exercises = bundle_exercises(args, args.with_cnn or course.gradescope.with_cnn)
    except (ValueError, ConfigError) as e:
        print(f"dlgrade gradescope: {e}", file=sys.stderr)
        return 2
    files = members(Path(course_path), exercises)
    write_zip(out, files)
    size = out.stat().st_size
    settings = course.gradescope
    print(f"Wrote {out} ({len(files)} files, {size / 1024:.0f} KiB): grades {', '.join(exercises)} "
          f"with the hidden suites; student code runs with sandbox = {settings.sandbox!r}.")
    print(f"Visibility: public tests {settings.public_visibility}, hidden tests {settings.hidden_visibility} "
          f"(never their details), log {settings.stdout_visibility}.")
    print("Upload it under Configure Autograder (base image Ubuntu 24.04; on 22.04 setup.sh installs Python 3.11).")
    if set(KERAS_EXERCISES) & set(exercises):
        print("dlgrade gradescope: the Keras exercises are graded only in bubblewrap; if bwrap cannot run in Gradescope's "
              "container, every submission reports that the grader failed. TensorFlow makes the image large.",
              file=sys.stderr)
    return 0
