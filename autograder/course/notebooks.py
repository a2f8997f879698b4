"""Lab notebooks: release the student copy with nbgrader's preprocessors (the grading side is notebook_code.py).

`dlgrade release` writes exercises/<name>.ipynb for every solutions/<name>.ipynb:
nbgrader's ClearSolutions replaces each `### BEGIN SOLUTION` ... `### END SOLUTION`
region of a solution cell with `# YOUR CODE HERE` / `raise NotImplementedError()`,
and ClearOutput drops outputs and execution counts.

The grading side, a submitted notebook as a module, is autograder/grading/notebook_code.py (it ships in
the student bundle: stdlib only).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import nbformat

from autograder.grading.notebook_code import notebook_to_module  # noqa: F401 - where it used to live
from autograder.course.markers import BEGIN, END, ReleaseError

SOLUTION_KEY = "nbgrader"
# nbgrader's own test for a marker line: the delimiter anywhere in the line (ClearSolutions).
_NB_BEGIN, _NB_END = BEGIN.lstrip("# "), END.lstrip("# ")


# --- release: the student copy ----------------------------------------------------------------


def source_notebooks(solutions_dir) -> list[Path]:
    """The lab notebooks release turns into student copies: solutions_dir/*.ipynb."""
    return sorted(p for p in Path(solutions_dir).glob("*.ipynb") if p.is_file())


def student_notebook(text: str, filename: str) -> str:
    """The student copy of the solution notebook `filename` whose JSON text is `text`.

    Solution regions become nbgrader's code stub, outputs and execution counts
    are cleared, everything else is kept. Raises ReleaseError (`file: cell K: ...`)
    for a notebook that does not read, malformed markers, a region in a cell not
    marked as a solution cell, or nbgrader metadata that does not validate.
    """
    # Imported here: nbgrader's preprocessors take seconds to import and only release needs them.
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError
    from nbgrader.preprocessors import ClearOutput, ClearSolutions

    nb = _read(text, filename, ReleaseError)
    for index, cell in enumerate(nb.cells, start=1):
        _check_markers(cell, f"{filename}: cell {index}")
    try:
        MetadataValidator().validate_nb(nb)
    except ValidationError as exc:
        raise ReleaseError(f"{filename}: nbgrader cell metadata does not validate: {exc}") from None
    resources: dict = {}
    for preprocessor in (ClearSolutions(), ClearOutput()):
        nb, resources = preprocessor.preprocess(nb, resources)
    # nbformat.write's layout (indent 1, sorted keys, final newline), so Jupyter re-saves it unchanged.
    out = nbformat.writes(nb)
    return out if out.endswith("\n") else out + "\n"


def _check_markers(cell, where: str) -> None:
    """ReleaseError unless the cell's markers pair up, alone on their lines, in a solution cell."""
    open_line = None
    for number, line in enumerate(cell.source.split("\n"), start=1):
        if _NB_BEGIN not in line and _NB_END not in line:
            continue
        text = line.strip()
        if text not in (BEGIN, END):
            raise ReleaseError(f"{where}, line {number}: a marker must be alone on its line, exactly {BEGIN!r} or {END!r}")
        if text == BEGIN:
            if open_line is not None:
                raise ReleaseError(f"{where}, line {number}: nested {BEGIN} (the region opened at line {open_line} is not closed)")
            open_line = number
        elif open_line is None:
            raise ReleaseError(f"{where}, line {number}: {END} without {BEGIN}")
        else:
            open_line = None
        if not cell.get("metadata", {}).get(SOLUTION_KEY, {}).get("solution", False):
            raise ReleaseError(f"{where}, line {number}: solution marker in a cell not marked as a solution cell (nbgrader metadata)")
    if open_line is not None:
        raise ReleaseError(f"{where}, line {open_line}: {BEGIN} without {END}")


def _read(text: str, filename: str, error: type[Exception]):
    """The notebook (nbformat v4) in text; `error` naming filename when it is not one."""
    try:
        with warnings.catch_warnings():
            # Old notebooks without cell ids, or with small schema slips, still read: only the code matters here.
            warnings.simplefilter("ignore")
            nb = nbformat.reads(text, as_version=4)
        cells = nb["cells"]
        for cell in cells:
            if not isinstance(cell.get("source", ""), str) or not isinstance(cell.get("cell_type"), str):
                raise TypeError("a cell without a cell_type or with a source that is not text")
            cell.setdefault("source", "")
    except Exception as exc:  # nbformat raises JSON, schema, Type, Key and Attribute errors alike
        raise error(f"{filename}: not a readable Jupyter notebook ({type(exc).__name__}: {exc})") from None
    return nb
