"""The transfer-learning lab notebook: release's student copy, its code cells as transfer.py (the model
answer's functions, graded like solutions/transfer.py), a lone notebook graded as the lab it is, and the
whole notebook running top to bottom in quick mode."""
import ast
import importlib.util
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course.notebooks import student_notebook
from autograder.grading import submissions
from autograder.grading.notebook_code import convertible_notebooks, lab_of, notebook_to_module
from autograder.sandbox.transfer import BASE_FILE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_notebooks import DATA_DIR, REGION, is_solution, load_module, read, run_quick, top_level_calls  # noqa: E402
from test_transfer_grading import _grade, needs_grading  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NAME = "transfer_fashion_mnist.ipynb"
SOURCE, STUDENT = REPO / "solutions" / NAME, REPO / "exercises" / NAME
GRADED = {"build_transfer_model", "fine_tune"}


def test_repo_student_notebook_is_what_release_writes():
    assert STUDENT.read_text(encoding="utf-8") == student_notebook(SOURCE.read_text(encoding="utf-8"), "solutions/" + NAME)


def test_the_student_copy_stubs_the_two_graded_functions_only():
    source, student = read(SOURCE), read(STUDENT)
    solution_cells = [i for i, c in enumerate(source.cells) if is_solution(c)]
    assert [c.metadata["nbgrader"]["grade_id"] for c in source.cells if is_solution(c)] == sorted(GRADED)
    for i, (src, out) in enumerate(zip(source.cells, student.cells)):
        if i in solution_cells:
            assert out.source == REGION.sub(r"\1# YOUR CODE HERE\n\1raise NotImplementedError()", src.source) != src.source
        else:
            assert out.source == src.source
    stubs = "".join(c.source for c in student.cells if is_solution(c))
    assert "BEGIN SOLUTION" not in STUDENT.read_text()
    assert 'layers.Dense(num_classes, name="target_logits")' not in stubs and "fit(30, 3e-3)" not in stubs


def test_its_module_is_solutions_transfer_py_and_runs_nothing():
    source = notebook_to_module(SOURCE)
    tree = ast.parse(source)
    assert top_level_calls(tree) == []
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    assert not {"x_small", "x_test", "QUICK", "tuned", "scratch", "results"} & assigned
    notebook = {n.name: ast.dump(n) for n in tree.body if isinstance(n, ast.FunctionDef)}
    solution = ast.parse((REPO / "solutions" / "transfer.py").read_text())
    for node in solution.body:
        if isinstance(node, ast.FunctionDef):
            assert notebook[node.name] == ast.dump(node), node.name
        elif isinstance(node, ast.Assign):  # FEATURES, TOP_CONV
            assert ast.dump(node) in {ast.dump(n) for n in tree.body if isinstance(n, ast.Assign)}
    assert lab_of(source) == "transfer" and lab_of(notebook_to_module(REPO / "solutions" / "cnn_fashion_mnist.ipynb")) == "cnn"


def test_the_notebook_is_graded_as_transfer_py(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    shutil.copy2(SOURCE, folder / NAME)
    shutil.copy2(REPO / "solutions" / "cnn_fashion_mnist.ipynb", folder / "cnn_fashion_mnist.ipynb")
    assert sorted(e for _, e in convertible_notebooks(folder)) == ["cnn", "transfer"]
    (folder / "transfer.py").write_text("# the student's own file wins\n")
    assert [e for _, e in convertible_notebooks(folder)] == ["cnn"]


def test_a_lone_transfer_notebook_is_graded_as_transfer_py(tmp_path):
    """A submission that is one notebook is named after the student: its functions say which lab it is."""
    lone = tmp_path / "subs" / "tia-lab.ipynb"
    lone.parent.mkdir()
    shutil.copy2(SOURCE, lone)
    (entry,) = submissions.find_entries(lone.parent).values()
    (tmp_path / "work").mkdir()
    prepared = submissions.prepare(entry, tmp_path / "work")
    assert sorted(p.name for p in prepared.folder.iterdir()) == ["transfer.py"]
    assert f"graded the code cells of {lone.name} as transfer.py" in prepared.notes


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")


def test_student_notebook_module_raises_not_implemented(keras):
    namespace = load_module(notebook_to_module(STUDENT), "transfer_student")
    assert namespace["FEATURES"] == "base_flatten"
    with pytest.raises(NotImplementedError):
        namespace["build_transfer_model"](None)
    with pytest.raises(NotImplementedError):
        namespace["fine_tune"](None, None, None, None, None)


@needs_grading
def test_its_module_grades_like_the_model_answer(tmp_path_factory):
    """The lab's code cells, converted as `dlgrade grade` converts them, earn full marks on every test."""
    tests = _grade(tmp_path_factory, "notebook", notebook_to_module(SOURCE))
    failed = {k: t["extra_data"]["details"][:300] for k, t in tests.items() if t["status"] != "passed"}
    assert not failed and len(tests) == 6 + 12, failed
    assert sum(t["score"] for t in tests.values()) == pytest.approx(15.0)


@pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"{DATA_DIR} missing (apt-get install dataset-fashion-mnist)")
@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_solution_notebook_runs_top_to_bottom_in_quick_mode(tmp_path, monkeypatch, keras):
    """TRANSFER_LAB_QUICK=1: 1000 test images and short comparison runs (about 20 s on 2 cores)."""
    monkeypatch.setenv("TRANSFER_LAB_QUICK", "1")
    monkeypatch.setenv("TRANSFER_BASE_FILE", str(BASE_FILE))  # the kernel runs in tmp_path, away from the repo
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    nb, text, figures = run_quick(SOURCE, tmp_path)
    assert "train (25, 28, 28, 1) validation (250, 28, 28, 1) test (1000, 28, 28, 1)" in text
    for run in ("feature extraction", "fine-tuning", "from scratch"):
        assert re.search(rf"{run}: best validation accuracy 0\.\d{{4}}", text), run
        assert re.search(rf"  {run} +0\.\d{{4}}", text), run
    assert re.search(r"transfer \(fine-tuning\) - from scratch: [+-]0\.\d{4}", text)
    assert len(figures) == 2  # the 25 training images; the validation curves of the three runs
    assert nbformat.validate(nb) is None
