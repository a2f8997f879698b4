"""Lab notebooks: release's student copy (nbgrader), `--check` on notebooks, and notebook_to_module for grading."""
from __future__ import annotations

import ast
import importlib.util
import math
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbformat import v4

from autograder.course.notebooks import notebook_to_module, student_notebook
from autograder.course.release import ReleaseError, check, main, release

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
NAME = "cnn_fashion_mnist.ipynb"
SOURCE = SOLUTIONS / NAME
STUDENT = EXERCISES / NAME
DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
REGION = re.compile(r"(?ms)^( *)### BEGIN SOLUTION\n.*?^ *### END SOLUTION$")


@pytest.fixture(scope="module")
def keras():
    """Keras, imported once for the tests that build models (TensorFlow takes seconds to import)."""
    return pytest.importorskip("keras")


def read(path: Path):
    return nbformat.read(path, as_version=4)


def run_quick(path: Path, folder: Path):
    """Execute the notebook at `path` top to bottom in a kernel working in `folder`; (notebook, printed
    text, cells with a figure). The caller sets its lab's quick mode; no error output is allowed."""
    from nbclient import NotebookClient

    nb = read(path)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    figures = [c for c in nb.cells if any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]
    return nb, text, figures


def is_solution(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def write_notebook(path: Path, sources: list[str], solution: set[int] = frozenset()) -> Path:
    """A notebook of code cells (a source starting with '# md' becomes a markdown cell); indices in `solution` are nbgrader solution cells."""
    cells = []
    for i, src in enumerate(sources):
        cell = v4.new_markdown_cell(src) if src.startswith("# md") else v4.new_code_cell(src)
        cell["id"] = f"c{i}"
        if i in solution:
            cell.metadata["nbgrader"] = {
                "grade": False, "grade_id": f"g{i}", "locked": False, "schema_version": 3, "solution": True, "task": False,
            }  # fmt: skip
        cells.append(cell)
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}})
    nbformat.write(nb, path)
    return path


def load_module(source: str, tag: str) -> dict:
    """Run the generated module source in a fresh namespace."""
    namespace: dict = {"__name__": f"_nb_{tag}"}
    exec(compile(source, f"<{tag}>", "exec"), namespace)  # noqa: S102 - our own notebooks
    return namespace


# --- release: the student copy ------------------------------------------------------------------


def test_repo_student_notebook_is_what_release_writes():
    assert STUDENT.read_text(encoding="utf-8") == student_notebook(SOURCE.read_text(encoding="utf-8"), "solutions/" + NAME)


def test_student_notebook_keeps_every_cell_but_the_solutions_and_outputs():
    source, student = read(SOURCE), read(STUDENT)
    assert [(c.id, c.cell_type) for c in student.cells] == [(c.id, c.cell_type) for c in source.cells]
    solution_cells = [i for i, c in enumerate(source.cells) if is_solution(c)]
    assert len(solution_cells) == 2  # build_model and train
    for i, (src, out) in enumerate(zip(source.cells, student.cells)):
        if i in solution_cells:
            # Each region becomes nbgrader's stub at the marker's indentation; the rest of the cell stays.
            expected = REGION.sub(r"\1# YOUR CODE HERE\n\1raise NotImplementedError()", src.source)
            assert expected != src.source
            assert out.source == expected
            assert is_solution(out)
        else:
            assert out.source == src.source
        if out.cell_type == "code":
            assert out.outputs == [] and out.execution_count is None


def test_no_solution_line_reaches_the_student_notebook():
    text = STUDENT.read_text(encoding="utf-8")
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    student_lines = {ln.strip() for c in read(STUDENT).cells for ln in c.source.split("\n")}
    hidden = [
        ln.strip()
        for c in read(SOURCE).cells
        for match in REGION.finditer(c.source)
        for ln in match.group(0).split("\n")[1:-1]
        if len(ln.strip()) > 10 and not ln.strip().startswith("#")
    ]
    assert len(hidden) > 10  # the check below has something to look for
    assert [ln for ln in hidden if ln in student_lines] == []


@pytest.fixture
def repo_copy(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(SOLUTIONS, solutions, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(EXERCISES, exercises, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return solutions, exercises


def test_check_detects_an_edited_solution_notebook(repo_copy, capsys):
    solutions, exercises = repo_copy
    assert check(solutions, exercises) == []
    nb = read(solutions / NAME)
    train_cell = next(c for c in nb.cells if is_solution(c) and "def train" in c.source)
    # Inside a region: hidden from students, so the student copy is still what release writes.
    train_cell.source = train_cell.source.replace("learning_rate=1e-3", "learning_rate=2e-3")
    nbformat.write(nb, solutions / NAME)
    assert check(solutions, exercises) == []

    nb.cells[0].source = nb.cells[0].source.replace("# Lab:", "# Lab (edited):")
    nbformat.write(nb, solutions / NAME)
    assert check(solutions, exercises) == [NAME]
    capsys.readouterr()
    assert main(["--check", "--solutions", str(solutions), "--exercises", str(exercises)]) == 1
    assert NAME in capsys.readouterr().err

    release(solutions, exercises)
    assert check(solutions, exercises) == []
    assert read(exercises / NAME).cells[0].source.startswith("# Lab (edited):")


def test_check_reports_a_missing_and_an_extra_notebook_and_release_fixes_both(repo_copy):
    solutions, exercises = repo_copy
    (exercises / NAME).unlink()
    shutil.copy2(STUDENT, exercises / "old_lab.ipynb")
    assert check(solutions, exercises) == [NAME, "old_lab.ipynb"]
    release(solutions, exercises)
    assert check(solutions, exercises) == []
    assert not (exercises / "old_lab.ipynb").exists()


FUNC = "def f(x):\n    \"\"\"Doc.\"\"\"\n"
BAD_MARKERS = {
    "unclosed": (FUNC + "    ### BEGIN SOLUTION\n    return x\n", {1}, "line 3: ### BEGIN SOLUTION without ### END SOLUTION"),
    "nested": (FUNC + "    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", {1}, "line 4: nested"),
    "end-without-begin": (FUNC + "    return x\n    ### END SOLUTION\n", {1}, "line 4: ### END SOLUTION without"),
    "not-alone": (FUNC + "    x = 1  ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", {1}, "line 3: a marker must be alone"),
    "not-a-solution-cell": (FUNC + "    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n", set(), "not marked as a solution cell"),
}


@pytest.mark.parametrize("case", sorted(BAD_MARKERS))
def test_malformed_markers_name_the_file_and_cell(case, tmp_path):
    source, solution, message = BAD_MARKERS[case]
    path = write_notebook(tmp_path / "nb.ipynb", ["import os", source], solution)
    with pytest.raises(ReleaseError) as info:
        student_notebook(path.read_text(), "solutions/nb.ipynb")
    assert str(info.value).startswith("solutions/nb.ipynb: cell 2, line "), str(info.value)
    assert message in str(info.value)


def test_a_broken_solution_notebook_fails_release_without_writing(repo_copy, capsys):
    solutions, exercises = repo_copy
    (solutions / NAME).write_text('{"cells": [')
    before = {p.name: p.read_bytes() for p in exercises.iterdir()}
    capsys.readouterr()
    assert main(["--solutions", str(solutions), "--exercises", str(exercises)]) == 2
    assert re.search(rf"{re.escape(NAME)}: not a readable Jupyter notebook", capsys.readouterr().err)
    assert {p.name: p.read_bytes() for p in exercises.iterdir()} == before


# --- notebook_to_module ----------------------------------------------------------------------------


def top_level_calls(tree: ast.Module) -> list[str]:
    """Calls that would run when the module is imported: any call outside def/class bodies (decorators included)."""
    calls = []
    for node in tree.body:
        parts = [node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            parts = [*node.decorator_list, *node.args.defaults, *filter(None, node.args.kw_defaults)]
        elif isinstance(node, ast.ClassDef):
            parts = [*node.decorator_list, *node.bases, *node.keywords]
        calls += [ast.unparse(n) for part in parts for n in ast.walk(part) if isinstance(n, ast.Call)]
    return calls


def test_module_from_the_solution_notebook_defines_the_contract_and_runs_nothing():
    source = notebook_to_module(SOURCE)
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets}
    assert {"build_model", "train"} <= defined
    assert "OUTPUT_LOGITS" in assigned
    # The notebook loads data, trains and plots at top level; none of it may survive.
    assert top_level_calls(tree) == []
    assert not {"x_train", "history", "model", "y_pred", "QUICK"} & assigned
    assert "%" not in {ln[:1] for ln in source.splitlines()}


def test_notebook_and_cnn_py_hold_the_same_model_answer():
    """The lab's graded cells are solutions/cnn.py's functions, so the two cannot drift apart."""
    notebook = {n.name: ast.dump(n) for n in ast.parse(notebook_to_module(SOURCE)).body if isinstance(n, ast.FunctionDef)}
    cnn_tree = ast.parse((SOLUTIONS / "cnn.py").read_text())
    for node in cnn_tree.body:
        if isinstance(node, ast.FunctionDef):
            assert notebook[node.name] == ast.dump(node), node.name
    constants = {t.id: ast.literal_eval(n.value) for n in cnn_tree.body if isinstance(n, ast.Assign) for t in n.targets}
    module = load_module_constants(notebook_to_module(SOURCE))
    assert {k: module[k] for k in constants} == constants


def load_module_constants(source: str) -> dict:
    tree = ast.parse(source)
    return {t.id: ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) for t in n.targets}


def test_magics_shell_lines_and_top_level_work_are_dropped(tmp_path):
    path = write_notebook(
        tmp_path / "sub.ipynb",
        [
            "# md: markdown is ignored\nX_MD = 1",
            "%matplotlib inline\nimport math\n!pip install tensorflow\n  !ls",
            "%%time\nCELL_MAGIC = 1",
            "get_ipython().system('ls')\nEPOCHS = 5\nSCALE = EPOCHS * 2 + -1\nPI = math.pi\nhistory = train()",
            "def f():\n    return EPOCHS\n\n\nf()\nfor i in range(3):\n    LOOP = i",
            # Valid Python is kept as written, even a continuation line that starts with %.
            "WRAPPED = (7\n    % 4)",
            "import numpy as np; data = np.load('x.npy')\nSHAPE: tuple = (28, 28, 1)\nmodel = f()\nPAIR = A, B = 1, 2",
            "from __future__ import annotations\nimport not_installed_anywhere_xyz",
            "@staticmethod\ndef g(x):\n    return x",
        ],
    )
    source = notebook_to_module(path)
    for dropped in ("matplotlib", "pip", "!ls", "CELL_MAGIC", "get_ipython", "history", "f()\n", "LOOP", "X_MD", "np.load", "model ="):
        assert dropped not in source, dropped
    assert source.count("from __future__ import annotations") == 1
    namespace = load_module(source, "magics")  # raises if anything kept needed a dropped name
    assert namespace["f"]() == 5
    assert (namespace["SCALE"], namespace["WRAPPED"], namespace["SHAPE"], namespace["PAIR"]) == (9, 3, (28, 28, 1), (1, 2))
    assert namespace["PI"] == math.pi  # an attribute of an imported name counts as a constant
    assert namespace["np"].__name__ == "numpy"
    assert "not_installed_anywhere_xyz" not in namespace  # a failing import is skipped, not fatal
    assert isinstance(namespace["g"], staticmethod)  # decorators stay with their function


@pytest.mark.parametrize(
    "content",
    ["{not json", '{"cells": [', "[1, 2]", '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": 5}', "\udcff"],
    ids=["not-json", "truncated", "a-list", "cells-not-a-list", "not-utf8"],
)
def test_a_corrupt_notebook_is_a_value_error_naming_the_file(tmp_path, content):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(ValueError, match=r"broken\.ipynb: "):
        notebook_to_module(path)


def test_a_cell_with_a_syntax_error_is_named(tmp_path):
    path = write_notebook(tmp_path / "sub.ipynb", ["import os", "# md text", "def build_model(:\n    pass"])
    with pytest.raises(ValueError, match=r"sub\.ipynb: code cell 3, line 1 is not valid Python"):
        notebook_to_module(path)


# --- the modules work with Keras ------------------------------------------------------------------


def test_solution_notebook_module_builds_and_trains_a_model(keras):
    namespace = load_module(notebook_to_module(SOURCE), "solution")
    assert "x_train" not in namespace  # importing it loaded no data
    model = namespace["build_model"]()
    assert model.output_shape == (None, 10)
    assert namespace["build_model"](input_shape=(32, 32, 1), num_classes=3).output_shape == (None, 3)
    layer_types = {type(layer).__name__ for layer in model.layers}
    assert {"Conv2D", "MaxPooling2D", "Dense", "Dropout"} <= layer_types

    rng = np.random.default_rng(0)
    x = rng.random((64, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=64)
    seen = []

    class Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(sorted(logs))

    history = namespace["train"](model, x, y, x[:16], y[:16], epochs=1, callbacks=[Recorder()])
    assert isinstance(history, keras.callbacks.History)
    assert seen and "val_accuracy" in seen[0]  # the grader's callbacks run, with validation metrics
    assert np.asarray(model.predict(x[:4], verbose=0)).shape == (4, 10)


def test_student_notebook_module_raises_not_implemented(keras):
    namespace = load_module(notebook_to_module(STUDENT), "student")
    assert namespace["OUTPUT_LOGITS"] is True
    with pytest.raises(NotImplementedError):
        namespace["build_model"]()
    with pytest.raises(NotImplementedError):
        namespace["train"](None, None, None, None, None)


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"{DATA_DIR} missing (apt-get install dataset-fashion-mnist)")
@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_solution_notebook_runs_top_to_bottom_in_quick_mode(tmp_path, monkeypatch):
    """CNN_LAB_QUICK=1: a few thousand images and one epoch, so the whole lab runs in seconds."""
    monkeypatch.setenv("CNN_LAB_QUICK", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel's inline backend turns figures into image/png outputs
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    nb, text, figures = run_quick(SOURCE, tmp_path)
    assert "train (2000, 28, 28, 1)" in text and re.search(r"test accuracy: 0\.\d{4}", text)
    # The sample grid, the training curves, the confusion matrix; then the augmentation demonstration's
    # augmented copies and its validation curves with and without augmentation.
    assert len(figures) == 5
    assert re.search(r"without augmentation: best validation accuracy 0\.\d{4}", text)
    assert re.search(r"with augmentation: best validation accuracy 0\.\d{4}", text)


def test_a_syntax_warning_in_a_cell_is_not_an_error(tmp_path):
    # "\d" in a plain string warns (DeprecationWarning/SyntaxWarning); pytest runs with warnings as errors.
    path = write_notebook(tmp_path / "sub.ipynb", ['PATTERN = "\\d+"'])
    assert 'PATTERN = "\\d+"' in notebook_to_module(path)
