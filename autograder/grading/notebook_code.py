"""A submitted lab notebook as a module: what its code cells define, without running what they run.

`notebook_to_module` turns a submitted notebook into the source of a module that defines what
its code cells define, without running what they run (loading data, training, plotting).
Stdlib only: it ships in the student bundle, where `check cnn` accepts the lab notebook as
`grade` does. The rule, also stated in the lab notebook's first cell:
- code cells are taken in document order; markdown and raw cells are ignored;
- a cell whose first line starts with `%%` (a cell magic) is dropped, and so is
  every line starting with `%` or `!` (line magics, shell commands) in a cell
  that is not valid Python as it stands;
- of the top-level statements, only imports, function and class definitions,
  and assignments of constants (literals, arithmetic on them, earlier
  constants, and aliases of imported names like `layers = keras.layers`) are
  kept; everything else (calls such as `get_ipython()...` or `history = train(...)`,
  loops, `if` blocks) is dropped;
- an import that fails where the module is loaded is skipped (the plots'
  libraries need not be installed for grading), so graded functions must not
  depend on them.
"""
from __future__ import annotations

import ast
import json
import warnings
from pathlib import Path


def convertible_notebooks(folder: Path) -> list[tuple[Path, str]]:
    """(notebook, exercise) for `<exercise>.ipynb` or `<exercise>_<anything>.ipynb` (the released
    `cnn_fashion_mnist.ipynb`) without `<exercise>.py` beside it; the first in name order wins."""
    from autograder.course.config import EXERCISES

    found: dict[str, Path] = {}
    for nb in sorted(Path(folder).glob("*.ipynb")):
        exercise = nb.stem if nb.stem in EXERCISES else nb.stem.split("_", 1)[0]
        # A link could point at any notebook on this machine (the model answer): never follow one.
        if exercise in EXERCISES and nb.is_file() and not nb.is_symlink() and not (Path(folder) / f"{exercise}.py").exists():
            found.setdefault(exercise, nb)
    return [(nb, e) for e, nb in found.items()]


TRANSFER_FUNCTIONS = ("build_transfer_model", "fine_tune")


def lab_of(module_source: str) -> str:
    """The lab a lone submitted notebook (its name is the student's, not the exercise's) stands for: transfer
    when its module defines build_transfer_model or fine_tune, else the CNN lab."""
    defined = {n.name for n in _parse(module_source).body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return "transfer" if defined & set(TRANSFER_FUNCTIONS) else "cnn"


def notebook_to_module(nb_path) -> str:
    """Python source of the module the submitted notebook at nb_path stands for (rule: this module's docstring).

    Raises ValueError naming the file for a notebook that does not read, and
    naming the cell for a code cell that is not valid Python once magics are dropped.
    """
    path = Path(nb_path)
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the notebook ({exc})") from None
    cells = read_cells(text, str(path))

    future: list[str] = []
    chunks: list[str] = []
    constants: set[str] = set()  # names kept as constants or imports so far, for later constant expressions
    for index, (kind, text) in enumerate(cells, start=1):
        if kind != "code":
            continue
        source = _python_source(text)
        if source is None:
            continue
        try:
            tree = _parse(source)
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            at = f", line {line}" if line else ""
            raise ValueError(f"{path}: code cell {index}{at} is not valid Python: {getattr(exc, 'msg', exc)}") from None
        kept = []
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                future.append(ast.unparse(node))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                constants.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
                kept.append(_guarded_import(_segment(source, tree, node)))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                kept.append(_segment(source, tree, node))
                constants.add(node.name)  # an alias such as `make = build_model` runs nothing
            elif _is_constant_assignment(node, constants):
                kept.append(_segment(source, tree, node))
                constants.update(_assigned_names(node))
            else:
                # Anything else may run code (train, load data, plot) or depend on it; a name it
                # rebinds is no longer a known constant.
                constants.difference_update(_assigned_names(node))
        if kept:
            chunks.append(f"# --- cell {index} ---\n" + "\n\n".join(kept))
    header = (
        f"# Generated by dlgrade from {path.name}: the imports, definitions and constants of its code cells.\n"
        "# Imports are guarded: one the grading machine lacks (a plotting library) is skipped."
    )
    return "\n\n".join(["\n".join([header, *dict.fromkeys(future)]), *chunks]) + "\n"


def read_cells(text: str, filename: str) -> list[tuple[str, str]]:
    """(cell_type, source) of each cell of the notebook (nbformat 4) in `text`; ValueError naming filename."""
    try:
        nb = json.loads(text)
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise TypeError("no list of cells")
        if not isinstance(nb.get("nbformat", 4), int) or nb.get("nbformat", 4) < 4:
            raise TypeError(f"nbformat {nb.get('nbformat')} (save it with Jupyter 4 or later)")
        cells = []
        for cell in nb["cells"]:
            source = cell.get("source", "") if isinstance(cell, dict) else None
            source = "".join(source) if isinstance(source, list) and all(isinstance(s, str) for s in source) else source
            if not isinstance(source, str) or not isinstance(cell.get("cell_type"), str):
                raise TypeError("a cell without a cell_type or with a source that is not text")
            cells.append((cell["cell_type"], source))
    except (ValueError, TypeError, RecursionError) as exc:
        raise ValueError(f"{filename}: not a readable Jupyter notebook ({type(exc).__name__}: {exc})") from None
    return cells


def _parse(source: str) -> ast.Module:
    """ast.parse without warnings: a SyntaxWarning (say "\\d" in a plain string) is the student's, not an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source)


def _python_source(source: str) -> str | None:
    """The cell's source without IPython syntax; None for a cell magic (%%) cell."""
    if source.lstrip().startswith("%%"):
        return None
    try:
        _parse(source)
        return source  # valid Python stays byte for byte: a line like `% b` may continue an expression
    except (SyntaxError, ValueError):
        pass
    # Blanked rather than removed, so line numbers in messages match the cell.
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n")]
    return "\n".join(lines)


def _segment(source: str, tree: ast.Module, node: ast.stmt) -> str:
    """The node's lines as written (comments included), from its first decorator; unparsed if it shares a line."""
    lines = source.split("\n")
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno])
    end = node.end_lineno
    shares_a_line = any(
        other is not node and other.lineno <= end and other.end_lineno >= start for other in tree.body
    ) or node.col_offset != 0
    if shares_a_line:  # `a = 1; train(...)`: only this statement, re-rendered
        decorators = [f"@{ast.unparse(d)}" for d in getattr(node, "decorator_list", [])]
        return "\n".join([*decorators, ast.unparse(node)])
    # The block's trailing indented comments (a closing `### END SOLUTION`) belong to it too.
    while end < len(lines) and lines[end][:1] in (" ", "\t") and lines[end].strip().startswith("#"):
        end += 1
    return "\n".join(lines[start - 1:end])


def _guarded_import(text: str) -> str:
    """An import that is skipped, not fatal, where the module is not installed."""
    body = "\n".join("    " + line for line in text.split("\n"))
    return f"try:\n{body}\nexcept ImportError:\n    pass"



def _assigned_names(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds directly (assignment targets, for/with targets)."""
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
        targets = [node.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _is_constant_assignment(node: ast.stmt, constants: set[str]) -> bool:
    """`NAME = <constant expression>` (or `A, B = ...`, or annotated), targets plain names only."""
    if isinstance(node, ast.Assign):
        targets, value = node.targets, node.value
    elif isinstance(node, ast.AnnAssign) and node.value is not None and node.simple:
        targets, value = [node.target], node.value
    else:
        return False
    names_only = all(
        isinstance(t, ast.Name) or isinstance(t, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in t.elts)
        for t in targets
    )
    return names_only and _is_constant(value, constants)


def _is_constant(node: ast.expr, constants: set[str]) -> bool:
    """A literal, arithmetic on constants, a known constant name, or an attribute chain of one (`keras.layers`)."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.Attribute):
        return _is_constant(node.value, constants)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant(e, constants) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_constant(k, constants) for k in node.keys) and all(
            _is_constant(v, constants) for v in node.values
        )
    if isinstance(node, ast.UnaryOp):
        return _is_constant(node.operand, constants)
    if isinstance(node, ast.BinOp):
        return _is_constant(node.left, constants) and _is_constant(node.right, constants)
    return False

