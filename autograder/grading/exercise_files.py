"""Which file of a submission is graded as which exercise: exact names, near-misses, other copies.

A browser saves a second download of `activations.py` as `activations (1).py`, and some
editors or students capitalise (`Losses.py`): such near-misses are graded as the exercise,
with a note. Copies of an exercise file deeper in the folder are named in a note too, so
nobody wonders which one was graded.
"""
from __future__ import annotations

import re
from pathlib import Path

from autograder.course.config import EXERCISES

# "activations (1)", "Activations(2)": a browser's suffix for a repeated download.
_COPY_SUFFIX = re.compile(r"^(?P<stem>.+?)\s*\((?P<n>\d+)\)$")
JUNK_DIRS = ("__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git")
MAX_LISTED = 12


def near_miss(name: str) -> tuple[str, int] | None:
    """(exercise, copy number) when `name` is a near-miss of `<exercise>.py`, else None."""
    path = Path(name)
    if path.suffix.lower() != ".py":
        return None
    stem, number = path.stem, 0
    match = _COPY_SUFFIX.match(stem)
    if match:
        stem, number = match["stem"], int(match["n"])
    exercise = stem.strip().lower()
    if exercise not in EXERCISES or name == f"{exercise}.py":
        return None
    return exercise, number


def renames(folder: Path) -> tuple[dict[str, Path], list[str]]:
    """({exercise: the near-miss file to grade as <exercise>.py}, notes) for exercises without their exact file.

    Of several near-misses of one exercise, the highest copy number is the latest download.
    """
    found: dict[str, list[tuple[int, str, Path]]] = {}
    for path in sorted(folder.iterdir()):
        miss = near_miss(path.name)
        if miss and path.is_file() and not path.is_symlink() and not (folder / f"{miss[0]}.py").exists():
            found.setdefault(miss[0], []).append((miss[1], path.name, path))
    chosen, notes = {}, []
    for exercise in EXERCISES:
        if exercise not in found:
            continue
        candidates = sorted(found[exercise])
        _, name, path = candidates[-1]
        chosen[exercise] = path
        others = [n for _, n, _ in candidates[:-1]]
        also = f" (not {', '.join(others)}: the highest copy number is the latest)" if others else ""
        notes.append(f"graded {name} as {exercise}.py{also}")
    return chosen, notes


def other_copies(folder: Path) -> list[str]:
    """Notes naming exercise files below the top level that are not graded (the top-level one is)."""
    notes = []
    deeper: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        rel = path.relative_to(folder)
        if len(rel.parts) < 2 or any(p in JUNK_DIRS or p.startswith(".") for p in rel.parts):
            continue
        miss = near_miss(path.name)
        exercise = path.stem if path.stem in EXERCISES and path.suffix == ".py" else miss[0] if miss else None
        if exercise is not None:
            deeper.setdefault(exercise, []).append(rel.as_posix())
    for exercise in EXERCISES:
        if exercise in deeper and (folder / f"{exercise}.py").is_file():
            notes.append(f"graded {exercise}.py at the top of the submission, not {', '.join(deeper[exercise])}")
    return notes


def none_found(folder: Path) -> str:
    """The note for a submission without any exercise file: what it holds and what was expected."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and not any(part in JUNK_DIRS or part.startswith(".")
                                              for part in p.relative_to(folder).parts))
    held = ", ".join(files[:MAX_LISTED]) + (f" and {len(files) - MAX_LISTED} more" if len(files) > MAX_LISTED else "")
    expected = ", ".join(f"{e}.py" for e in EXERCISES)
    return (f"no exercise files found in the submission: it holds {held or 'no files'}; "
            f"expected files named {expected} (or a notebook) at its top level")
