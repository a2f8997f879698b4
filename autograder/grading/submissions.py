"""Submissions for bulk grading: one entry per student (folder, .zip or .ipynb), safe unpacking, content hash."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autograder.grading import exercise_files
from autograder.course.config import EXERCISES
from autograder.grading.notebook_code import convertible_notebooks
from autograder.grading.packing import BadSubmission, pack, unpack  # noqa: F401 - part of this module's API

ZIP_MAX_FILES = 1000
ZIP_MAX_BYTES = 64 << 20  # uncompressed, all members together
ZIP_MAX_DEPTH = 8
NOTEBOOK_MAX_BYTES = 32 << 20
# Archivers' litter, never part of a submission.
JUNK = ("__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git")
KINDS = ("folder", "zip", "notebook")
# Top-level files of an unsupported type that are still a student's attempt (graded: "unsupported
# submission type" tells them); any other file there (README.txt, a class list) is no submission.
ATTEMPTS = (".py", ".tar", ".gz", ".tgz", ".bz2", ".xz", ".rar", ".7z")


@dataclass
class Entry:
    """One student's entry (or entries, when the id is used twice) directly under SUBMISSIONS."""

    student: str
    paths: list[Path]

    @property
    def kind(self) -> str:
        return kind_of(self.paths[0]) if len(self.paths) == 1 else "duplicate"

    def problem(self) -> str:
        """Why this entry cannot be graded at all ('' when it can be prepared)."""
        if len(self.paths) > 1:
            names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in self.paths)
            return f"several submissions for student {self.student!r} ({names}); keep exactly one and grade again"
        if self.kind == "other":
            return (f"{self.paths[0].name}: unsupported submission type "
                    "(expected a folder of exercise files, a .zip of them, or a .ipynb notebook)")
        return ""


@dataclass
class Prepared:
    """A submission unpacked into a folder of exercise files, ready for the suites."""

    student: str
    folder: Path
    content_hash: str
    notes: list[str] = field(default_factory=list)


def kind_of(path: Path) -> str:
    """'folder', 'zip', 'notebook' or 'other'."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    return {".zip": "zip", ".ipynb": "notebook"}.get(suffix, "other")


def student_id(path: Path) -> str:
    """The entry's name without its extension (folders keep their whole name)."""
    return path.name if path.is_dir() else path.stem


def find_entries(folder: Path) -> dict[str, Entry]:
    """Student id -> Entry for every non-hidden entry directly under `folder` that can be a submission, sorted by id."""
    found: dict[str, list[Path]] = {}
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith(".") or path.name in JUNK or is_stray(path):
            continue
        found.setdefault(student_id(path), []).append(path)
    return {s: Entry(s, paths) for s, paths in sorted(found.items())}


def is_stray(path: Path) -> bool:
    """A top-level file that cannot be a student's submission (a README.txt, a class list), not an attempt at one."""
    return not path.is_dir() and kind_of(path) == "other" and not path.name.lower().endswith(ATTEMPTS)


def strays(folder: Path) -> list[str]:
    """Names of the entries `find_entries` skips as no submission (hidden files and archivers' litter aside)."""
    return [p.name for p in sorted(Path(folder).iterdir())
            if not p.name.startswith(".") and p.name not in JUNK and is_stray(p)]


# --- unpacking --------------------------------------------------------------------------

def safe_member_name(name: str) -> PurePosixPath | None:
    """The member's relative path, None for junk; BadSubmission for traversal or absolute paths."""
    clean = name.replace("\\", "/")
    if "\0" in clean:
        raise BadSubmission(f"the archive has a member with a NUL byte in its name ({name!r})")
    if clean.startswith("/") or (len(clean) > 1 and clean[1] == ":"):
        raise BadSubmission(f"the archive has a member with an absolute path ({name!r})")
    parts = [p for p in clean.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise BadSubmission(f"the archive has a member that points outside it ({name!r})")
    if not parts or any(p in JUNK or p.startswith(".") for p in parts):
        return None
    if len(parts) > ZIP_MAX_DEPTH:
        raise BadSubmission(f"the archive nests folders more than {ZIP_MAX_DEPTH} deep ({name!r})")
    return PurePosixPath(*parts)


def extract_zip(archive: Path, dest: Path) -> None:
    """Unpack `archive` into the empty folder `dest`: regular files and folders only, within the caps."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise BadSubmission(f"{archive.name} is not a readable zip archive ({e})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > ZIP_MAX_FILES:
            raise BadSubmission(f"{archive.name} holds {len(infos)} members (at most {ZIP_MAX_FILES} allowed)")
        plan: dict[PurePosixPath, zipfile.ZipInfo] = {}
        declared = 0
        for info in infos:
            rel = safe_member_name(info.filename)
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no Unix type recorded (Windows, zipfile.writestr)
            if kind == stat.S_IFLNK:
                raise BadSubmission(f"{archive.name} contains a symbolic link ({info.filename}); links are not accepted")
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                raise BadSubmission(f"{archive.name} contains a special file ({info.filename})")
            if info.flag_bits & 0x1:
                raise BadSubmission(f"{archive.name} is encrypted ({info.filename}); submit it without a password")
            if rel is None or info.is_dir():
                continue
            if rel in plan:
                raise BadSubmission(f"{archive.name} holds {info.filename} twice")
            declared += info.file_size
            if declared > ZIP_MAX_BYTES:
                raise BadSubmission(f"{archive.name} unpacks to more than {ZIP_MAX_BYTES >> 20} MiB")
            plan[rel] = info
        files = set(plan)
        for rel in plan:
            if any(parent in files for parent in rel.parents):
                raise BadSubmission(f"{archive.name} holds {rel.parent} both as a file and as a folder")
        budget = ZIP_MAX_BYTES
        try:
            for rel, info in plan.items():
                target = dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                # The declared sizes may lie (zip bombs): count what is actually inflated.
                with zf.open(info) as src, open(target, "xb") as out:
                    while chunk := src.read(1 << 20):
                        budget -= len(chunk)
                        if budget < 0:
                            raise BadSubmission(f"{archive.name} unpacks to more than {ZIP_MAX_BYTES >> 20} MiB")
                        out.write(chunk)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, OSError, ValueError) as e:
            raise BadSubmission(f"{archive.name} is damaged and could not be unpacked ({type(e).__name__}: {e})") from None


def submission_root(folder: Path) -> Path:
    """Descend through lone wrapper folders (`ana.zip` -> `ana/`, nbgrader's `<student>/<assignment>/`)."""
    for _ in range(ZIP_MAX_DEPTH):
        children = [c for c in folder.iterdir() if not c.name.startswith(".") and c.name not in JUNK]
        dirs = [c for c in children if c.is_dir() and not c.is_symlink()]
        if len(children) != 1 or len(dirs) != 1:
            return folder
        folder = dirs[0]
    return folder


def notebook_module(notebook: Path) -> str:
    """The code cells of a submitted notebook as a module (autograder.grading.notebook_code does the work)."""
    from autograder.grading.notebook_code import notebook_to_module

    if notebook.stat().st_size > NOTEBOOK_MAX_BYTES:
        raise BadSubmission(f"{notebook.name} is larger than {NOTEBOOK_MAX_BYTES >> 20} MiB")
    try:
        return notebook_to_module(notebook)
    except ValueError as e:  # it names the file and the cell
        raise BadSubmission(str(e).replace(str(notebook), notebook.name)) from None
    except Exception as e:  # any way a notebook can be broken is that student's problem only
        raise BadSubmission(f"{notebook.name} could not be read as a notebook ({type(e).__name__}: {e})") from None


def prepare(entry: Entry, workdir: Path) -> Prepared:
    """Make `entry` a folder of exercise files (unpacked or converted under `workdir` when needed)."""
    problem = entry.problem()
    if problem:
        raise BadSubmission(problem)
    path, kind = entry.paths[0], entry.kind
    notes: list[str] = []
    if kind == "folder":
        folder = submission_root(path)
        if convertible_notebooks(folder) or exercise_files.renames(folder)[0]:
            # Never write into the instructor's copy: convert and rename in a private one.
            copy = workdir / "folder"
            shutil.copytree(folder, copy, symlinks=True, ignore=shutil.ignore_patterns(*JUNK))
            folder = copy
    elif kind == "zip":
        unpacked = workdir / "unpacked"
        unpacked.mkdir()
        extract_zip(path, unpacked)
        folder = submission_root(unpacked)
    else:  # a lone notebook (named after the student): the lab whose functions it defines
        from autograder.grading.notebook_code import lab_of

        folder = workdir / "notebook"
        folder.mkdir()
        source = notebook_module(path)
        exercise = lab_of(source)
        (folder / f"{exercise}.py").write_text(source)
        notes.append(f"graded the code cells of {path.name} as {exercise}.py")
    renames, renamed = exercise_files.renames(folder)
    for exercise, file in renames.items():
        file.rename(folder / f"{exercise}.py")
    notes += renamed
    for nb, exercise in convertible_notebooks(folder):
        (folder / f"{exercise}.py").write_text(notebook_module(nb))
        notes.append(f"graded the code cells of {nb.name} as {exercise}.py")
    if not any((folder / f"{e}.py").is_file() for e in EXERCISES):
        notes.append(exercise_files.none_found(folder))
    notes += exercise_files.other_copies(folder)
    return Prepared(entry.student, folder, content_hash(folder), notes)


def content_hash(folder: Path) -> str:
    """sha256 over every path and its bytes (links: their target), in sorted order; caches skipped."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", ".git"))
        for name in sorted(filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, folder).replace(os.sep, "/")
            if os.path.islink(full):
                h.update(b"L\0" + rel.encode() + b"\0" + os.readlink(full).encode() + b"\0")
            elif os.path.isfile(full):
                h.update(b"F\0" + rel.encode() + b"\0" + str(os.path.getsize(full)).encode() + b"\0")
                with open(full, "rb") as f:
                    while chunk := f.read(1 << 20):
                        h.update(chunk)
    return h.hexdigest()
