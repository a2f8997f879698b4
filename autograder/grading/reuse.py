"""Grade each distinct exercise file once: per-exercise views of a submission and a store of their results.

Grading is deterministic, so an exercise's results depend only on what its tests can
see. With `isolate`, the suites run each exercise in its own worker whose folder holds
only that exercise's *view*: its own file, every file that is not another exercise's
module (helpers, data), and the exercise modules its code names (transitively): as a
name (`import activations`) or a string literal (`import_module("activations")`,
"activations.py"); comments and prose in docstrings do not count. The
results of a view are then a function of (view, grader version, course.toml, options),
which is the key of the store: a stub left untouched, a missing file or a file shared
by several students is graded once per class, and a regrade reuses what did not change.

Results that depend on the machine's load (a timeout, the per-test time budget) and
grader errors are never stored. The Keras exercises (trained under a wall-clock budget) never are.
"""
from __future__ import annotations

import ast
import functools
import hashlib
import io
import json
import re
import tokenize
from pathlib import Path

from autograder.course.config import EXERCISES, KERAS_EXERCISES
from autograder.grading.results import write_json_atomic

NEVER_REUSED = KERAS_EXERCISES  # trained under a wall-clock budget: not deterministic
# StudentError kinds that depend on the machine, not the code. Not "cpu_time": a CPU-time limit
# is far above what correct code takes, and the machine's load does not count towards it.
TIME_KINDS = ("timeout", "slow")

ROUND_EXERCISES = ".exercises"  # in a round's folder: its exercises, one a line (an empty view ships no folder)


def rounds_of(submission: Path) -> list[Path]:
    """The rounds of a folder of views: its folders 0/, 1/, ... (each holding <exercise>/ views), else itself."""
    numbered = sorted((p for p in submission.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name)) \
        if submission.is_dir() else []
    return numbered or [submission]


def round_exercises(views: Path) -> set[str]:
    """The exercises a round of views grades: as its list says, else its <exercise>/ folders."""
    listed = views / ROUND_EXERCISES
    if listed.is_file():
        return set(listed.read_text().split())
    return {p.name for p in views.iterdir() if p.is_dir()} if views.is_dir() else set()


def module_of(rel: str) -> str | None:
    """The exercise whose module this top-level file is ('conv.py' -> 'conv'), else None."""
    if "/" not in rel and rel.endswith(".py") and rel[:-3] in EXERCISES:
        return rel[:-3]
    return None


def view(files: dict[str, bytes | str], exercise: str) -> dict[str, bytes | str]:
    """The files (as `submissions.pack` gives them) that `exercise`'s tests may see."""
    chosen = {exercise}
    todo = [exercise]
    while todo:
        source = files.get(f"{todo.pop()}.py")
        for other in named_modules(source) if isinstance(source, bytes) else ():
            if other not in chosen:
                chosen.add(other)
                todo.append(other)
    return {rel: data for rel, data in files.items() if module_of(rel) in chosen or module_of(rel) is None}


@functools.lru_cache(maxsize=4096)  # a class submits the same files many times over (the untouched stubs)
def named_modules(source: bytes) -> frozenset[str]:
    """Exercise modules a Python source names in its code; every one it mentions if it does not tokenize."""
    found = set()
    try:
        for tok in tokenize.tokenize(io.BytesIO(source).readline):
            if tok.type == tokenize.NAME and tok.string in EXERCISES:
                found.add(tok.string)
            elif tok.type == tokenize.STRING:
                try:
                    value = ast.literal_eval(tok.string)
                except (ValueError, SyntaxError):
                    continue
                if isinstance(value, (str, bytes)):
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                    stem = text.removesuffix(".py").rsplit("/", 1)[-1]
                    if stem in EXERCISES:
                        found.add(stem)
    except (tokenize.TokenError, SyntaxError, UnicodeDecodeError):
        text = source.decode("utf-8", "replace")
        return frozenset(e for e in EXERCISES if re.search(rf"\b{e}\b", text))
    return frozenset(found)


def view_hash(files: dict[str, bytes | str]) -> str:
    """sha256 over the view's sorted paths, kinds and contents."""
    h = hashlib.sha256()
    for rel in sorted(files):
        data = files[rel]
        kind, raw = (b"F", data) if isinstance(data, bytes) else (b"L", data.encode())
        h.update(kind + b"\0" + rel.encode() + b"\0" + str(len(raw)).encode() + b"\0" + raw)
    return h.hexdigest()


def keys(files: dict[str, bytes | str], exercises: list[str], salt: dict) -> dict[str, str]:
    """Exercise -> store key, for the exercises whose results may be reused."""
    base = json.dumps(salt, sort_keys=True)
    return {e: hashlib.sha256(f"{base}\0{e}\0{view_hash(view(files, e))}".encode()).hexdigest()
            for e in exercises if e not in NEVER_REUSED}


def reusable(tests: list[dict]) -> bool:
    """Whether an exercise's graded tests may stand for every identical view."""
    return bool(tests) and not any(
        t.get("extra_data", {}).get("grader_error") or t.get("extra_data", {}).get("kind") in TIME_KINDS
        for t in tests)


class Store:
    """Graded tests of one exercise view, by key, as JSON files under `root/<exercise>/`."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, exercise: str, key: str) -> Path:
        return self.root / exercise / f"{key}.json"

    def get(self, exercise: str, key: str) -> list[dict] | None:
        try:
            data = json.loads(self._path(exercise, key).read_text())
        except (OSError, ValueError):
            return None
        ok = isinstance(data, dict) and data.get("key") == key and isinstance(data.get("tests"), list)
        return data["tests"] if ok and reusable(data["tests"]) else None

    def seconds(self, exercise: str, key: str) -> float:
        """How long grading this view took when it was graded (0.0 when not recorded)."""
        try:
            value = json.loads(self._path(exercise, key).read_text()).get("seconds", 0.0)
        except (OSError, ValueError, AttributeError):
            return 0.0
        return float(value) if type(value) in (int, float) and 0 <= value < 1e7 else 0.0

    def put(self, exercise: str, key: str, tests: list[dict], seconds: float = 0.0) -> bool:
        """Keep the view's tests (and its share of its task's time) for identical views; False if not reusable."""
        if not reusable(tests):
            return False
        try:
            self._path(exercise, key).parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(self._path(exercise, key), {"key": key, "exercise": exercise, "tests": tests,
                                                          "seconds": round(seconds, 3)}, indent=None)
        except OSError:
            return False  # e.g. a full disk: the class is graded all the same, just without reuse
        return True
