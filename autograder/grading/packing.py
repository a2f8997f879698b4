"""A folder as plain data and back: what ships a submission (or one exercise's view of it) to another process."""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class BadSubmission(Exception):
    """This submission cannot be graded as it is; the message says why (shown as 'could not grade')."""


def pack(folder: Path) -> dict[str, bytes | str]:
    """Relative path -> bytes (regular files) or link target (str), to ship a submission to a remote worker."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in ("__pycache__", ".git")]
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, folder).replace(os.sep, "/")
            if os.path.islink(full):
                out[rel] = os.readlink(full)
            elif os.path.isfile(full):
                out[rel] = Path(full).read_bytes()
    return out


def unpack(files: dict[str, bytes | str], dest: Path) -> Path:
    """Recreate a packed submission under `dest` (names checked as for zips); returns `dest`."""
    for rel, data in files.items():
        parts = PurePosixPath(rel).parts
        if not parts or rel.startswith("/") or ".." in parts:
            raise BadSubmission(f"invalid path in a packed submission: {rel!r}")
        target = dest.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, str):
            os.symlink(data, target)
        else:
            target.write_bytes(data)
    return dest
