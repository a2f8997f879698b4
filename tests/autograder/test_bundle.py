"""The student bundle holds no reference or solution code, and `dlgrade check` runs from it."""
import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.course import bundle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist") / "student"
    archive = bundle.build(ROOT / "exercises", out)
    return out, archive


def bodies(path: Path) -> list[str]:
    """Each function body of a file (docstring left out), whitespace-normalised, if it has 2+ lines."""
    tree = ast.parse(path.read_text())
    source = path.read_text()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            lines = [ln.strip() for stmt in body for ln in ast.get_source_segment(source, stmt).splitlines()]
            lines = [ln for ln in lines if ln and not ln.startswith("#")]
            if len(lines) >= 2:
                out.append("\n".join(lines))
    return out


def normalised(text: str) -> str:
    return "\n".join(ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#"))


def test_no_reference_or_solution_files(built):
    out, _ = built
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    assert not any("dlref" in p.relative_to(out).parts or "solutions" in p.relative_to(out).parts for p in files)
    private = {p.read_bytes() for d in ("dlref", "solutions") for p in (ROOT / d).rglob("*.py") if p.stat().st_size > 200}
    leaked = [str(p.relative_to(out)) for p in files if p.read_bytes() in private]
    assert not leaked, f"copies of reference/solution files in the bundle: {leaked}"


def test_no_function_body_from_reference_or_solutions(built):
    out, _ = built
    shipped = {p: normalised(p.read_text()) for p in out.rglob("*.py")}
    private = [(src, b) for d in ("dlref", "solutions") for src in (ROOT / d).glob("*.py") for b in bodies(src)]
    assert len(private) > 50  # the check below has something to look for
    leaks = [f"{src.name}: {b.splitlines()[0]}" for src, b in private for text in shipped.values() if b in text]
    assert not leaks, f"function bodies from dlref/solutions in the bundle: {leaks[:5]}"


def test_no_module_imports_the_reference(built):
    out, _ = built
    for path in out.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            bad = [n for n in names if n.split(".")[0] == "dlref" or n.startswith(("autograder.mistakes", "autograder.suites.differential", "autograder.course.record"))]
            assert not bad, f"{path.relative_to(out)} imports {bad}"


def test_every_grader_module_it_imports_is_shipped(built):
    out, _ = built

    def shipped(module: str) -> bool:
        rel = Path(*module.split("."))
        return (out / rel).with_suffix(".py").is_file() or (out / rel / "__init__.py").is_file()

    def is_module(module: str) -> bool:  # in the project's grader (a name imported from a package may be one)
        rel = Path(*module.split("."))
        return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()

    for path in out.rglob("*.py"):
        if path == out / "autograder" / "cli.py":
            continue  # it skips the commands the bundle does not ship
        for node in ast.walk(ast.parse(path.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                mods.append(node.module)
                mods += [f"{node.module}.{a.name}" for a in node.names if is_module(f"{node.module}.{a.name}")]
            for m in mods:
                if m.startswith("autograder."):
                    assert shipped(m), f"{path.relative_to(out)} needs {m}, not in the bundle"


def test_zip_holds_the_folder(built):
    out, archive = built
    with zipfile.ZipFile(archive) as zf:
        names = {n for n in zf.namelist()}
    expected = {f"student/{p.relative_to(out).as_posix()}" for p in out.rglob("*") if p.is_file()}
    assert names == expected


def test_check_runs_from_an_unpacked_bundle(built, tmp_path):
    _, archive = built
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    home = tmp_path / "student"
    shutil.copy2(ROOT / "solutions" / "activations.py", home / "exercises" / "activations.py")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "autograder", "check", "activations", "perceptron"],
        cwd=home, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert "activations" in done.stdout and "all pass" in done.stdout.split("perceptron")[0], done.stdout + done.stderr
    assert "not implemented yet" in done.stdout  # perceptron is still the stub
    assert done.returncode == 1
    assert f"course folder: {home.resolve()} (the nearest course.toml" in done.stdout  # the bundle's own


def test_requirements_cover_what_the_lab_notebook_imports(built):
    """Every top-level package the lab notebook imports is in the bundle's requirements (a backend for Keras too)."""
    import json

    out, _ = built
    wanted = {line.split(">=")[0].split("<")[0].strip() for line in (out / "requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    notebook = json.loads((out / "exercises" / "cnn_fashion_mnist.ipynb").read_text())
    imported = set()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.Import):
                    imported |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names)
    assert third_party >= {"keras", "matplotlib", "numpy"}, third_party
    assert third_party <= wanted, f"not in requirements.txt: {third_party - wanted}"
    assert wanted & {"tensorflow", "jax", "torch"}, "Keras needs a backend"


def test_check_cnn_accepts_the_lab_notebook_alone(built, tmp_path):
    """`python3 -m autograder check cnn` from the bundle, on a folder holding only the (solved) lab notebook."""
    import importlib.util

    from autograder.sandbox.client import bwrap_available

    if importlib.util.find_spec("keras") is None or not bwrap_available():
        pytest.skip("needs Keras and bubblewrap (make install installs both)")
    _, archive = built
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp_path)
    home = tmp_path / "student"
    lab = tmp_path / "my-lab"
    lab.mkdir()
    shutil.copy2(ROOT / "solutions" / "cnn_fashion_mnist.ipynb", lab / "cnn_fashion_mnist.ipynb")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "autograder", "check", "cnn", "--dir", str(lab)],
                          cwd=home, env=env, capture_output=True, text=True, timeout=600)
    assert "checking the code cells of cnn_fashion_mnist.ipynb as cnn.py" in done.stdout, done.stdout + done.stderr
    assert "not submitted" not in done.stdout
    assert "all pass" in done.stdout and done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in lab.iterdir()) == ["cnn_fashion_mnist.ipynb"]  # nothing written beside it
