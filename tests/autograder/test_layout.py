"""The tree shows the trust boundary, and these rules keep it so (read from the imports with ast).

- inside/ (what runs in the sandbox) imports nothing of the package or dlref: the stdlib, numpy,
  its sibling files as the sandbox sees them, and (the CNN driver, lazily) Keras and its backends;
- nothing the student bundle ships imports dlref, the mistake catalogue or a hidden suite;
- reports/ never imports sandbox/ or inside/, even through another module: it renders results;
- no import circles between the package's modules;
- no module over about 400 lines (the suites' test files aside).
"""
import ast
import sys
from pathlib import Path

import pytest

from autograder.course import bundle

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "autograder"
SUITE_FILES = ("suites/public", "suites/hidden")
MAX_LINES = 440  # "about 400": protocol.py's wire format and the Worker class sit just above it
INSIDE_ALLOWED = {"numpy", "protocol", "confine", "cnn_driver", "worker", "arguments"}  # the siblings shipped with it
CNN_DRIVER_ALLOWED = {"keras", "tensorflow", "jax", "torch"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """Every module the file imports (at any depth of the code), package submodules resolved."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if is_module(f"{node.module}.{a.name}")}
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
GRAPH = {m: {i for i in imports_of(p) if i in MODULES} for m, p in MODULES.items()}


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("path", sorted((PACKAGE / "inside").glob("*.py")), ids=lambda p: p.name)
def test_inside_imports_only_the_stdlib_and_numpy(path):
    allowed = INSIDE_ALLOWED | (CNN_DRIVER_ALLOWED if path.name in ("cnn_driver.py", "transfer_driver.py") else set())
    bad = sorted(m for m in imports_of(path)
                 if m.split(".")[0] not in allowed and m.split(".")[0] not in sys.stdlib_module_names)
    assert not bad, f"inside/{path.name} imports {bad}: what runs in the sandbox must stand alone"


def test_the_student_bundle_reaches_no_reference_or_hidden_code():
    shipped = [module_name(PACKAGE / m) for m in bundle.CHECK_MODULES]
    shipped += [module_name(p) for p in (PACKAGE / "suites" / "public").glob("*.py")]
    for start in shipped:
        for path in [MODULES[start]] + [MODULES[m] for m in reachable(start)]:
            bad = [m for m in imports_of(path) if m.split(".")[0] == "dlref"
                   or m.startswith(("autograder.mistakes", "autograder.suites.hidden"))]
            assert not bad, f"{start} reaches {module_name(path)}, which imports {bad}"


def test_reports_never_reach_the_sandbox():
    for name in [m for m in MODULES if m.startswith("autograder.reports")]:
        bad = sorted(m for m in reachable(name) if m.startswith(("autograder.sandbox", "autograder.inside")))
        assert not bad, f"{name} reaches {bad}: reports render results, they never run code"


def test_no_import_circles():
    circles = []
    for start in GRAPH:
        if start in reachable(start):
            circles.append(start)
    assert not circles, f"modules on an import circle: {sorted(circles)}"


def test_no_module_over_about_400_lines():
    long = sorted((n, str(p.relative_to(ROOT))) for p in PACKAGE.rglob("*.py")
                  if not any(s in p.relative_to(PACKAGE).as_posix() for s in SUITE_FILES)
                  and (n := len(p.read_text().splitlines())) > MAX_LINES)
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_rules_see_the_tree():
    """The graph is built from real imports: a few known edges, so the rules above cannot pass on an empty graph."""
    assert "autograder.sandbox.client" in GRAPH["autograder.sandbox.cnn"]
    assert "autograder.grading.batch" in GRAPH["autograder.grading.grade"]
    assert len(MODULES) > 50
