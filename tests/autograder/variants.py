"""Single-bug variants of the model answers, for test_mutants.py and test_fairness.py (imported by conftest.py
as `dlgrade_test_variants`).

A variant is the mutant corpus' one textual change (mutants/<exercise>.py), or a catalogued mistake
of autograder/mistakes/ put in place of its function; `Graded` grades every variant of an exercise
once, with the model answer's examples replayed, many variants per pytest session (rounds of views,
as `dlgrade grade` bundles them), so that a variant costs a fraction of a grading run.
"""
from __future__ import annotations

import ast
import concurrent.futures
import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.course.config import NUMPY_EXERCISES
from autograder.grading.runner import run_suites

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "mutants"
# What a catalogued mistake needs beside the submission file to run in the worker (it is
# written with dlref's pieces); no grader code runs from these copies but the mistake itself.
CATALOGUE_FILES = ["autograder/__init__.py", "autograder/mistakes/__init__.py", "dlref/__init__.py",
                   *(f"autograder/mistakes/{e}.py" for e in NUMPY_EXERCISES),
                   *(f"dlref/{e}.py" for e in NUMPY_EXERCISES)]
ROUND_SIZE = 40  # variants per grading session: a failing session costs little to re-run
PARALLEL = 2  # grading sessions at once


def corpus(exercise: str):
    """The module tests/autograder/mutants/<exercise>.py (MUTANTS, and the written-down FAILS)."""
    path = CORPUS / f"{exercise}.py"
    spec = importlib.util.spec_from_file_location(f"mutants_{exercise}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solution(exercise: str) -> str:
    return (ROOT / "solutions" / f"{exercise}.py").read_text()


def companions(exercise: str) -> list[str]:
    """Other exercises the model answer's code names (tuning calls optim.train_mlp): their model answers go beside it."""
    from autograder.grading.reuse import named_modules

    return sorted(named_modules(solution(exercise).encode()) - {exercise})


def definitions_of(source: str) -> dict[str, tuple[int, int]]:
    """Top-level function or constant name -> (first, last) line of its definition."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = (node.lineno, node.end_lineno)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = (node.lineno, node.end_lineno)
    return out


def broken_by(source: str, changed: set[str]) -> set[str]:
    """The public functions whose results a change to `changed` can alter: those and their callers, transitively."""
    calls = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            calls[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    out, todo = set(changed), list(changed)
    while todo:
        name = todo.pop()
        for caller, names in calls.items():
            if name in names and caller not in out:
                out.add(caller)
                todo.append(caller)
    return {name for name in out if name in calls and not name.startswith("_")}


@dataclass(frozen=True)
class Variant:
    """One single-bug variant of solutions/<exercise>.py."""

    exercise: str
    id: str
    source: str  # the submission file
    changed: frozenset  # the functions it changes (before callers)
    hint: str = ""  # a hint fragment a failed test must give ("" for none required)
    catalogue: bool = False  # needs CATALOGUE_FILES beside it

    @property
    def key(self) -> str:
        return f"{self.exercise}-{self.id}"

    def broken(self) -> set[str]:
        return broken_by(solution(self.exercise), set(self.changed))

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{self.exercise}.py").write_text(self.source)
        for other in companions(self.exercise):
            shutil.copy(ROOT / "solutions" / f"{other}.py", folder / f"{other}.py")
        if self.catalogue:
            for rel in CATALOGUE_FILES:
                if (ROOT / rel).exists():
                    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(ROOT / rel, folder / rel)
        return folder


def mutant_variants(exercise: str) -> list[Variant]:
    """The corpus' single-bug variants: one textual change each to the model answer."""
    source = solution(exercise)
    spans = definitions_of(source)
    out = []
    for mutant_id, old, new, hint in corpus(exercise).MUTANTS:
        at = source.find(old)
        first = source.count("\n", 0, at) + 1
        last = first + old.count("\n")
        changed = {name for name, (a, b) in spans.items() if a <= last and first <= b}
        out.append(Variant(exercise, mutant_id, source.replace(old, new), frozenset(changed), hint))
    return out


def catalogue_variants(exercise: str) -> list[Variant]:
    """Each catalogued mistake of `exercise` in place of its function (the rest is the model answer).

    Where the mistake says it cannot show on an input (autograder/mistakes/conv.py's `_needs`),
    the function answers as the reference does: a student with that mistake would be right there.
    """
    from autograder import mistakes

    mistakes._load()
    out = []
    for (module, function), entries in mistakes.CATALOGUE.items():
        if module != exercise:
            continue
        for i, m in enumerate(entries):
            wrapper = (
                f"\n\n# The catalogued mistake {m.name} in place of {function}.\n"
                f"from autograder import mistakes as _mistakes\n"
                f"from dlref import {module} as _reference\n"
                f"_mistakes._load()\n"
                f"_mistake = _mistakes.CATALOGUE[({module!r}, {function!r})][{i}].fn\n\n\n"
                f"def {function}(*args, **kwargs):\n"
                f"    try:\n"
                f"        return _mistake(*args, **kwargs)\n"
                f"    except ValueError as e:\n"
                f"        if str(e) != 'mistake does not apply':\n"
                f"            raise\n"
                f"    return _reference.{function}(*args, **kwargs)\n"
            )
            out.append(Variant(exercise, f"catalogue-{m.name}", solution(exercise) + wrapper,
                               frozenset({function}), m.hint[:40], catalogue=True))
    return out


def all_variants(exercise: str) -> list[Variant]:
    return mutant_variants(exercise) + catalogue_variants(exercise)


def exercise_tests(data: dict, exercise: str) -> list[dict]:
    return [t for t in data["tests"] if t["tags"][0] == exercise]


class Graded:
    """Each exercise's variants graded once, replaying the model answer's examples: `results(variant)`."""

    def __init__(self, examples: dict[str, Path], tmp: Path):
        self.examples, self.tmp = examples, tmp
        self.done: dict[str, dict] = {}

    def results(self, variant: Variant) -> dict:
        """The results dict of grading `variant` (its exercise's whole corpus is graded on first use)."""
        if variant.key not in self.done:
            todo = [v for v in all_variants(variant.exercise) if v.key not in self.done]
            if variant.key not in {v.key for v in todo}:
                todo.append(variant)
            # Halves graded at once: the trusted process mostly waits on its worker, and CI has two cores.
            size = min(ROUND_SIZE, -(-len(todo) // PARALLEL))
            chunks = [todo[start:start + size] for start in range(0, len(todo), size)]
            with concurrent.futures.ThreadPoolExecutor(PARALLEL) as pool:
                list(pool.map(self._grade, chunks, range(len(chunks))))
        return self.done[variant.key]

    def _grade(self, chunk: list[Variant], k: int = 0) -> None:
        exercise = chunk[0].exercise
        folder = self.tmp / f"{exercise}-{len(self.done)}-{k}"
        for k, v in enumerate(chunk):
            v.write(folder / str(k) / exercise)
        data = run_suites(folder, [exercise], hidden=True,
                          env={"DLGRADE_EXAMPLES": str(self.examples[exercise]), "DLGRADE_ISOLATE": "views"})
        rounds = data.get("rounds") or [0] * len(data["tests"])
        if len(chunk) == 1:
            rounds = [0] * len(data["tests"])
        for k, v in enumerate(chunk):
            self.done[v.key] = {**data, "tests": [t for t, r in zip(data["tests"], rounds) if r == k]}


# --- what each test grades: the suites' `grades` markers, read by collecting them -------------------------

_COLLECT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
import pytest
from autograder.suites.plugin import exercise_of, is_hidden

class Dump:
    def __init__(self):
        self.out = {}

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("grades")
            key = f"{exercise_of(item)}::{'hidden' if is_hidden(item) else 'public'}::{item.name}"
            self.out[key] = None if marker is None else [list(marker.args), marker.kwargs.get("convention")]

dump = Dump()
code = pytest.main(["--collect-only", "-q", "-p", "autograder.suites.plugin", "-c", sys.argv[2], "--rootdir", sys.argv[3],
                    *sys.argv[5:]], plugins=[dump])
open(sys.argv[4], "w").write(json.dumps(dump.out))
sys.exit(int(code))
"""


def blame(exercises=NUMPY_EXERCISES) -> dict[str, tuple[frozenset, str | None] | None]:
    """test id ("losses::hidden::test_x[p]") -> (the functions it grades, the convention it is about, if any)."""
    import json
    import subprocess
    import sys
    import tempfile

    from autograder.grading.runner import SUITES, suite_files, trusted_env

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "blame.json"
        files = [str(f) for f in suite_files(list(exercises), hidden=True)]
        proc = subprocess.run([sys.executable, "-I", "-c", _COLLECT, str(ROOT), str(SUITES / "pytest.ini"), str(SUITES),
                               str(out), *files], cwd=tmp, env=trusted_env(), capture_output=True, text=True)
        assert proc.returncode == 0 and out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
        raw = json.loads(out.read_text())
    return {k: None if v is None else (frozenset(v[0]), v[1]) for k, v in raw.items()}


# --- the failing tests written down for each variant: fairness/<exercise>.txt -------------------------------

FAIRNESS = Path(__file__).resolve().parent / "fairness"
HEADER = """\
# The tests each single-bug variant of solutions/{exercise}.py fails (tests/autograder/test_fairness.py):
# the mutant corpus (mutants/{exercise}.py) and, as catalogue-<name>, each catalogued mistake of
# autograder/mistakes/{exercise}.py in place of its function. After a deliberate suite change, rewrite
# it with `DLGRADE_UPDATE_FAIRNESS=1 pytest tests/autograder/test_fairness.py -k {exercise}` and
# review the diff: a variant failing more tests than before is a mistake that now cascades.
"""


def read_expected(exercise: str) -> dict[str, list[str]]:
    """variant id -> the ids of the tests it fails (without the "<exercise>::" prefix)."""
    path = FAIRNESS / f"{exercise}.txt"
    out: dict[str, list[str]] = {}
    if not path.exists():
        return out
    current = None
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(" "):
            out[current].append(line.strip())
        else:
            current = line.strip()
            out[current] = []
    return out


def write_expected(exercise: str, failing: dict[str, list[str]]) -> None:
    FAIRNESS.mkdir(exist_ok=True)
    lines = [HEADER.format(exercise=exercise).rstrip("\n")]
    for variant, tests in failing.items():
        lines.append(variant)
        lines.extend(f"    {t}" for t in tests)
    (FAIRNESS / f"{exercise}.txt").write_text("\n".join(lines) + "\n")


def failed_ids(data: dict, exercise: str) -> list[str]:
    """The failed tests of a results dict, as "public::test_x[p]" in the order they ran."""
    return [t["extra_data"]["test_id"].split("::", 1)[1] for t in exercise_tests(data, exercise) if t["status"] == "failed"]
