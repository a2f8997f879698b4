"""dlgrade release: stub generation from solutions/, marker errors, --check, and the solutions' contract."""
from __future__ import annotations

import argparse
import ast
import copy
import importlib.util
import inspect
import re
import shutil
from pathlib import Path

import pytest

from autograder.course.contract import CONTRACT, NUMPY_EXERCISES, contract_problems, expected_signature, signature_problem
from autograder.course.release import HEADER, ReleaseError, add_arguments, check, main, release, strip_solutions

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
RAISE_LINE = re.compile(r'^\s*raise NotImplementedError\("(\w+): not implemented yet"\)\r?\n?$')
# A shape in a docstring: "(N," "(M,)" "(KH, KW, ...)", or the word "shape(s)".
SHAPE = re.compile(r"\(\w+,|\bshapes?\b")


def load(path: Path, tag: str):
    """Import the file at path as a fresh module (not registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"_release_test_{tag}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def strip_markers(text: str) -> list[str]:
    """Lines of a solution with each marked region collapsed to one sentinel line."""
    out, inside = [], False
    for line in text.splitlines():
        if line.strip() == "### BEGIN SOLUTION":
            inside = True
            out.append("<region>")
        elif line.strip() == "### END SOLUTION":
            inside = False
        elif not inside:
            out.append(line)
    return out


# --- strip_solutions on hand-written sources -------------------------------------------------

SOURCE = '''"""Module docstring (N, M)."""
import numpy as np

SCALE = 3  # a comment outside any region


def f(x, y=2):
    """Add y to x; x: (N,)."""
    # a comment before the region stays
    ### BEGIN SOLUTION
    z = x + y
    return z
    ### END SOLUTION


class Layer:
    def forward(self, a):
        """Doc."""
        if a:
            ### BEGIN SOLUTION
            return 1
            ### END SOLUTION
        return 0
'''

EXPECTED = '''# Exercise: implement the functions below; test them with `python3 -m autograder check demo`
# (from the student bundle's folder; `dlgrade check demo` in a course checkout).
"""Module docstring (N, M)."""
import numpy as np

SCALE = 3  # a comment outside any region


def f(x, y=2):
    """Add y to x; x: (N,)."""
    # a comment before the region stays
    raise NotImplementedError("f: not implemented yet")


class Layer:
    def forward(self, a):
        """Doc."""
        if a:
            raise NotImplementedError("forward: not implemented yet")
        return 0
'''


def test_strip_keeps_everything_outside_the_regions_and_names_the_function():
    assert strip_solutions(SOURCE, "solutions/demo.py") == EXPECTED


def test_strip_keeps_crlf_line_endings():
    out = strip_solutions(SOURCE.replace("\n", "\r\n"), "demo.py")
    assert out == EXPECTED.replace("\n", "\r\n")


def test_unicode_line_separators_in_a_docstring_do_not_shift_regions():
    # str.splitlines would break at \u2028 and \f; Python's line numbers do not.
    source = 'def f(x):\n    """Doc\u2028and\fmore (N,)."""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n'
    out = strip_solutions(source, "u.py")
    assert out.endswith('    """Doc\u2028and\fmore (N,)."""\n    raise NotImplementedError("f: not implemented yet")\n')


def test_file_without_markers_is_copied_unchanged():
    source = 'def g(x):\n    """Doc (N,)."""\n    return x\n'
    assert strip_solutions(source, "helpers.py") == source


def test_marker_text_inside_a_string_is_not_a_marker():
    source = 'def g():\n    """Doc."""\n    return """\n### BEGIN SOLUTION\n"""\n'
    assert strip_solutions(source, "s.py") == source


def test_nested_function_region_names_the_innermost_function():
    source = (
        "def outer(x):\n"
        "    def inner(v):\n"
        "        ### BEGIN SOLUTION\n"
        "        return v\n"
        "        ### END SOLUTION\n"
        "    return inner(x)\n"
    )
    out = strip_solutions(source, "n.py")
    assert '        raise NotImplementedError("inner: not implemented yet")\n    return inner(x)\n' in out


def test_stub_module_runs_and_raises_naming_the_function(tmp_path):
    path = tmp_path / "demo.py"
    path.write_text(strip_solutions(SOURCE, "demo.py"))
    module = load(path, "demo")
    with pytest.raises(NotImplementedError, match=r"^f: not implemented yet$"):
        module.f(1)
    assert module.Layer().forward(0) == 0  # code after the region survives


# --- malformed markers: ReleaseError "file:line: message" ---------------------------------

BAD = {
    "begin-without-end": ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", 2, "without ### END SOLUTION"),
    "end-without-begin": ("def f():\n    return 1\n    ### END SOLUTION\n", 3, "without ### BEGIN SOLUTION"),
    "nested": (
        "def f():\n    ### BEGIN SOLUTION\n    x = 1\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n",
        4,
        "nested",
    ),
    "module-level": ("import os\n### BEGIN SOLUTION\nX = 1\n### END SOLUTION\n", 2, "not inside a function body"),
    "class-body": ("class C:\n    ### BEGIN SOLUTION\n    X = 1\n    ### END SOLUTION\n", 2, "not inside a function body"),
    "past-function-end": (
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n\n\ndef g():\n    return 2\n    ### END SOLUTION\n",
        6,
        "runs past the end of f()",
    ),
    "not-alone": ("def f():\n    x = 1  ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", 2, "alone on its line"),
    "misspelt": ("def f():\n    ## BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", 2, "alone on its line"),
    "stub-does-not-parse": (
        "def f(x):\n    return (x +\n    ### BEGIN SOLUTION\n    1)\n    ### END SOLUTION\n",
        None,
        "the stub does not parse",
    ),
    "solution-does-not-parse": ("def f(:\n    pass\n", 1, "the solution does not parse"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_marker_errors_name_file_and_line(case):
    source, line, message = BAD[case]
    with pytest.raises(ReleaseError) as info:
        strip_solutions(source, "solutions/bad.py")
    text = str(info.value)
    prefix = re.match(r"^solutions/bad\.py:(\d+): ", text)
    assert prefix, text
    if line is not None:
        assert int(prefix.group(1)) == line, text
    assert message in text


# --- release / check / main on a temporary copy of the repo's files ---------------------------


@pytest.fixture
def repo_copy(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(SOLUTIONS, solutions, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(EXERCISES, exercises, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return solutions, exercises


def test_editing_a_solution_puts_its_stub_out_of_sync(repo_copy, capsys):
    solutions, exercises = repo_copy
    args = ["--solutions", str(solutions), "--exercises", str(exercises)]
    assert check(solutions, exercises) == []
    assert main(["--check", *args]) == 0

    path = solutions / "activations.py"
    text = path.read_text()
    # Code inside a region is hidden: changing it leaves the stub as it was.
    path.write_text(text.replace("return e / (1.0 + e) ** 2", "return e / ((1.0 + e) * (1.0 + e))"))
    assert check(solutions, exercises) == []

    path.write_text(text.replace("Logistic sigmoid", "The logistic sigmoid"))
    assert check(solutions, exercises) == ["activations.py"]
    capsys.readouterr()
    assert main(["--check", *args]) == 1
    assert "activations.py" in capsys.readouterr().err

    assert main(args) == 0
    assert check(solutions, exercises) == []
    assert "The logistic sigmoid" in (exercises / "activations.py").read_text()


def test_check_reports_missing_and_extra_stubs_and_release_fixes_both(repo_copy):
    solutions, exercises = repo_copy
    (exercises / "conv.py").unlink()
    (exercises / "old_exercise.py").write_text("x = 1\n")
    assert check(solutions, exercises) == ["conv.py", "old_exercise.py"]
    release(solutions, exercises)
    assert check(solutions, exercises) == []
    assert not (exercises / "old_exercise.py").exists()


def test_release_writes_exactly_one_stub_per_solution(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    (solutions / "__pycache__").mkdir(parents=True)
    (solutions / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (solutions / "notes.txt").write_text("not python\n")
    (solutions / "a.py").write_text('def f(x):\n    """(N,)"""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n')
    (solutions / "b.py").write_text("X = 1\n")
    written = release(solutions, exercises)
    assert sorted(p.name for p in written) == ["a.py", "b.py"]
    assert sorted(p.name for p in exercises.iterdir()) == ["a.py", "b.py"]
    assert (exercises / "b.py").read_text() == "X = 1\n"


def test_a_broken_solution_fails_release_without_writing_anything(repo_copy, capsys):
    solutions, exercises = repo_copy
    before = {p.name: p.read_bytes() for p in exercises.glob("*.py")}
    path = solutions / "losses.py"
    text = path.read_text()
    path.write_text(text.replace("    ### END SOLUTION\n", "", 1))
    capsys.readouterr()
    assert main(["--solutions", str(solutions), "--exercises", str(exercises)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"losses\.py:\d+: ", err), err
    assert {p.name: p.read_bytes() for p in exercises.glob("*.py")} == before


def test_main_defaults_to_the_course_folders_directories(monkeypatch, capsys):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args([])
    assert args.solutions is None and args.exercises is None and args.course_dir is None and not args.check
    monkeypatch.delenv("DLGRADE_COURSE_DIR", raising=False)
    monkeypatch.chdir(SOLUTIONS)  # anywhere inside the course: its course.toml is found upwards
    assert main(["--check"]) == 0
    assert f"course folder: {REPO} (the nearest course.toml from the current folder)" in capsys.readouterr().out


# --- the repository's own solutions and stubs ------------------------------------------------


def test_exercises_are_in_sync_with_solutions():
    assert check(SOLUTIONS, EXERCISES) == []


@pytest.mark.parametrize("name", NUMPY_EXERCISES)
def test_every_numpy_exercise_has_a_solution_and_a_stub(name):
    assert (SOLUTIONS / f"{name}.py").is_file()
    assert (EXERCISES / f"{name}.py").is_file()


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.py")), ids=lambda p: p.name)
def test_stub_is_the_solution_with_each_region_replaced_by_one_raise(path):
    stub = (EXERCISES / path.name).read_text().splitlines()
    solution = path.read_text()
    if "### BEGIN SOLUTION" not in solution:
        assert stub == solution.splitlines()
        return
    assert stub[:2] == HEADER.format(name=path.stem).splitlines()
    assert f"python3 -m autograder check {path.stem}`" in stub[0]  # the command that works in the bundle
    collapsed = ["<region>" if RAISE_LINE.match(line) else line for line in stub[2:]]
    assert collapsed == strip_markers(solution)
    assert "SOLUTION" not in "\n".join(stub)


def stub_raises(tree: ast.AST, function: str | None = None):
    """(enclosing function, named function) for every `raise NotImplementedError("<name>: not implemented yet")`."""
    for node in ast.iter_child_nodes(tree):
        inner = node.name if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
        if isinstance(node, ast.ClassDef):
            inner = None
        exc = getattr(node, "exc", None) if isinstance(node, ast.Raise) else None
        if isinstance(exc, ast.Call) and getattr(exc.func, "id", None) == "NotImplementedError":
            match = re.fullmatch(r"(\w+): not implemented yet", str(exc.args[0].value))
            if match:
                yield function, match.group(1)
        yield from stub_raises(node, inner)


@pytest.mark.parametrize("path", sorted(EXERCISES.glob("*.py")), ids=lambda p: p.name)
def test_every_stub_raise_names_its_own_function(path):
    text = path.read_text()
    raises = list(stub_raises(ast.parse(text)))
    assert len(raises) == text.count("not implemented yet")
    for enclosing, named in raises:
        assert enclosing == named


@pytest.mark.parametrize("name", NUMPY_EXERCISES)
def test_numpy_stubs_import_and_every_contract_function_raises(name):
    module = load(EXERCISES / f"{name}.py", "stub")
    for function in CONTRACT[name]:
        func = getattr(module, function)
        required = [p for p in inspect.signature(func).parameters.values() if p.default is inspect.Parameter.empty]
        with pytest.raises(NotImplementedError, match=rf"^{function}: not implemented yet$"):
            func(*[None] * len(required))


@pytest.mark.parametrize("name", NUMPY_EXERCISES)
def test_solutions_follow_the_contract(name):
    module = load(SOLUTIONS / f"{name}.py", "solution")
    assert contract_problems(module, name) == []


def function_from_ast(tree: ast.Module, name: str):
    """A body-less copy of the top-level function `name` (same parameters and defaults), without importing the file.

    Defaults may use the file's literal module constants; annotations and decorators are dropped.
    """
    namespace: dict = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                namespace[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            args = copy.deepcopy(node.args)
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
                if arg is not None:
                    arg.annotation = None
            header = ast.FunctionDef(name=name, args=args, body=[ast.Pass()], decorator_list=[], returns=None, type_params=[])
            exec(compile(ast.fix_missing_locations(ast.Module(body=[header], type_ignores=[])), "<contract>", "exec"), namespace)
            return namespace[name]
    return None


def test_cnn_solution_follows_the_contract_when_present():
    """Read from the AST: importing the Keras lab would cost a TensorFlow import."""
    path = SOLUTIONS / "cnn.py"
    if not path.is_file():
        pytest.skip("solutions/cnn.py is not written yet")
    tree = ast.parse(path.read_text())
    for function in CONTRACT["cnn"]:
        func = function_from_ast(tree, function)
        assert func is not None, f"cnn.py does not define {function}"
        assert signature_problem(func, "cnn", function) is None
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    assert "OUTPUT_LOGITS" in assigned


def test_function_from_ast_matches_the_imported_function():
    path = SOLUTIONS / "optim.py"
    module = load(path, "ast")
    for function in CONTRACT["optim"]:
        rebuilt = function_from_ast(ast.parse(path.read_text()), function)
        assert inspect.signature(rebuilt) == inspect.signature(getattr(module, function))


@pytest.mark.parametrize("path", sorted(SOLUTIONS.glob("*.py")), ids=lambda p: p.name)
def test_every_solution_function_has_a_docstring_with_a_shape(path):
    """Public contract functions and every function a student fills in (it holds a region)."""
    tree = ast.parse(path.read_text())
    stub_names = set(re.findall(r'NotImplementedError\("(\w+): not implemented yet"\)', (EXERCISES / path.name).read_text()))
    wanted = set(CONTRACT.get(path.stem, {})) | stub_names
    defined = {node.name: node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert wanted <= set(defined)
    for name in sorted(wanted):
        doc = ast.get_docstring(defined[name]) or ""
        assert SHAPE.search(doc), f"{path.name}: {name}'s docstring states no shape"
        assert "Hint" in doc or name.startswith("_") or path.stem == "cnn", f"{path.name}: {name}'s docstring has no hint"


# --- the contract checker itself ---------------------------------------------------------------


def test_contract_signatures_parse():
    for module, functions in CONTRACT.items():
        for function, text in functions.items():
            assert f"({', '.join(str(p) for p in expected_signature(module, function).parameters.values())})" == text


def test_signature_problem_catches_renamed_reordered_and_missing_defaults():
    def good(z, axis=-1):
        pass

    def renamed(x, axis=-1):
        pass

    def wrong_default(z, axis=0):
        pass

    def no_default(z, axis):
        pass

    def extended(z, axis=-1, out=None):
        pass

    def extra_required(z, axis=-1, out=None, *, k):
        pass

    assert signature_problem(good, "activations", "softmax") is None
    assert signature_problem(extended, "activations", "softmax") is None
    for bad in (renamed, wrong_default, no_default, extra_required):
        assert signature_problem(bad, "activations", "softmax"), bad.__name__


def test_vectors_are_stale_beyond_the_last_bits_only(tmp_path):
    from autograder.course.release import VECTOR_RTOL, _same_cases
    from autograder.course.vectors import recorded

    cases = recorded("conv")
    again = recorded("conv")
    assert _same_cases(cases, again)
    last_bits = recorded("conv")
    last_bits[0].expected = last_bits[0].expected * (1 + VECTOR_RTOL / 10)  # another machine's BLAS
    assert _same_cases(cases, last_bits)
    changed = recorded("conv")
    changed[0].expected = changed[0].expected * (1 + 1e-9)  # the reference changed
    assert not _same_cases(cases, changed)
    renamed = recorded("conv")
    renamed[1].hints = [("another hint", out) for _, out in renamed[1].hints] or [("a new hint", 0.0)]
    assert not _same_cases(cases, renamed)
    assert not _same_cases(cases, cases[:-1])
