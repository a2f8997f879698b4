"""`dlgrade release`: regenerate the student stubs in exercises/ from the instructor's solutions/.

Each `### BEGIN SOLUTION` ... `### END SOLUTION` region (nbgrader's markers,
alone on their lines) becomes one line, at the marker's indentation:
`raise NotImplementedError("<function>: not implemented yet")`. Everything
outside the regions is kept byte for byte. Lab notebooks (solutions/*.ipynb)
are released alongside, by autograder.course.notebooks.
"""
from __future__ import annotations

import argparse
import ast
import io
import os
import re
import sys
import tokenize
from pathlib import Path

from autograder.course import coursedir
from autograder.course.markers import BEGIN, END, ReleaseError  # noqa: F401 - part of release's API

HEADER = ("# Exercise: implement the functions below; test them with `python3 -m autograder check {name}`\n"
          "# (from the student bundle's folder; `dlgrade check {name}` in a course checkout).")
# Anything that looks like a marker, so a misplaced or misspelt one is an error, not silently kept.
_MARKER_LIKE = re.compile(r"#\s*(BEGIN|END)\s+SOLUTION\b", re.IGNORECASE)
_PLACEHOLDER = "__dlgrade_region_{}__"


def strip_solutions(source: str, filename: str) -> str:
    """The stub that release writes for the solution file `filename` whose text is `source`.

    Files without markers come back unchanged; otherwise a one-line header is
    added and every marked region is replaced by a NotImplementedError naming
    its function. Raises ReleaseError for malformed markers or output that does not parse.
    """
    source_tree = _parse(source, filename, "the solution")
    regions = _regions(source, filename)
    if not regions:
        return source
    # Python's own line breaks only (str.splitlines also breaks at \f, \u2028, ...), endings kept.
    lines = io.StringIO(source, newline="").readlines()

    def render(raise_line) -> tuple[str, list[int]]:
        out, origin, pos = [], [], 0  # origin[k]: the source line (1-based) of output line k + 1
        for index, (begin, end) in enumerate(regions):
            out += lines[pos:begin - 1]
            origin += range(pos + 1, begin)
            marker = lines[begin - 1]
            indent = marker[: len(marker) - len(marker.lstrip())]
            out.append(indent + raise_line(index) + marker[len(marker.rstrip("\r\n")):])
            origin.append(begin)
            pos = end
        out += lines[pos:]
        origin += range(pos + 1, len(lines) + 1)
        return "".join(out), origin

    # First pass with placeholders: parse it to learn which function holds each region.
    draft, origin = render(lambda i: f'raise NotImplementedError("{_PLACEHOLDER.format(i)}")')
    tree = _parse(draft, filename, "the stub", origin)
    functions = _enclosing_functions(tree, len(regions))
    for (begin, end), function in zip(regions, functions):
        if function is None:
            raise ReleaseError(f"{filename}:{begin}: solution region is not inside a function body")
        outside = _first_statement_outside(source_tree, begin, end, origin[function.lineno - 1])
        if outside is not None:
            raise ReleaseError(f"{filename}:{outside}: solution region opened at line {begin} runs past the end of {function.name}()")
    names = [function.name for function in functions]

    stub, origin = render(lambda i: f'raise NotImplementedError("{names[i]}: not implemented yet")')
    _parse(stub, filename, "the stub", origin)
    newline = lines[0][len(lines[0].rstrip("\r\n")):] or "\n"
    return HEADER.format(name=Path(filename).stem).replace("\n", newline) + newline + stub


def release(solutions_dir, exercises_dir) -> list[Path]:
    """Write one stub per solutions_dir/*.py into exercises_dir, delete stale stubs; returns the stub paths.

    Nothing is written unless every solution file releases cleanly (ReleaseError otherwise).
    """
    exercises_dir = Path(exercises_dir)
    stubs = _render_all(Path(solutions_dir))
    exercises_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in stubs.items():
        path = exercises_dir / name
        data = text.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
        written.append(path)
    for path in _released_files(exercises_dir):
        if path.name not in stubs:
            path.unlink()
    return written


def check(solutions_dir, exercises_dir) -> list[str]:
    """Names of the stubs in exercises_dir that differ from what release would write, are missing, or are extra."""
    return sorted(_out_of_sync(Path(solutions_dir), Path(exercises_dir)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="only compare: exit 1 if exercises/ is out of sync with solutions/")
    coursedir.add_argument(parser)
    parser.add_argument("--solutions", help="the instructor's solution files (default: the course folder's solutions/)")
    parser.add_argument("--exercises", help="where the stubs go (default: the course folder's exercises/)")
    parser.add_argument("--retrain-base", action="store_true",
                        help="train the transfer task's base model again (else it is trained only when missing)")
    parser.add_argument("--bundle", help="where the student bundle (folder and .zip) goes (default: the course folder's dist/student)")


def run(args: argparse.Namespace) -> int:
    """Exit status: 0 done or in sync, 1 out of sync (--check), 2 a solution cannot be released."""
    try:
        course = coursedir.find(getattr(args, "course_dir", None), fallback=False)
    except coursedir.CourseDirError as e:
        print(f"dlgrade release: {e}", file=sys.stderr)
        return 2
    print(course.describe())
    if course.foreign_grader():
        print(course.foreign_grader())
    solutions = Path(args.solutions) if args.solutions else course.solutions
    exercises = Path(args.exercises) if args.exercises else course.exercises
    if not solutions.is_dir():
        print(f"dlgrade release: {solutions} is not a directory", file=sys.stderr)
        return 2
    try:
        if args.check:
            problems = _out_of_sync(solutions, exercises)
            if problems:
                print(f"dlgrade release --check: {_show(exercises)} is out of sync with {_show(solutions)}:", file=sys.stderr)
                for name in sorted(problems):
                    print(f"  {name}: {problems[name]}", file=sys.stderr)
                print("run `dlgrade release` and commit the result.", file=sys.stderr)
                return 1
            stale = _stale_vectors(course)
            if stale:
                print(f"dlgrade release --check: public vectors out of date: {', '.join(stale)}", file=sys.stderr)
                print("run `dlgrade release` and commit the result.", file=sys.stderr)
                return 1
            base = _base_problems(course)
            if base:
                print(f"dlgrade release --check: the transfer base model: {'; '.join(base)}", file=sys.stderr)
                print("run `dlgrade release` (--retrain-base to train it again) and commit the result.", file=sys.stderr)
                return 1
            print(f"{_show(exercises)}, the public vectors and the transfer base model are in sync with {_show(solutions)}.")
            return 0
        written = release(solutions, exercises)
    except ReleaseError as exc:
        print(f"dlgrade release: {exc}", file=sys.stderr)
        return 2
    from autograder.course import bundle

    print(f"wrote {len(written)} stubs to {_show(exercises)}")
    rewritten = update_vectors(course)
    print(f"public vectors in {_show(course.vectors)}: "
          + (f"recorded again: {', '.join(rewritten)}" if rewritten else "all within tolerance, none rewritten"))
    if _has_transfer(course):
        from autograder.course import transfer_base

        print(transfer_base.ensure(course.grader, retrain=getattr(args, "retrain_base", False)))
    out = Path(args.bundle) if args.bundle else course.bundle
    archive = bundle.build(exercises, out, grader=course.grader, course_toml=course.course_toml)
    print(f"student bundle: {_show(out)}/ and {_show(archive)}")
    return 0


# The reference's floats can differ in their last bits from one machine to another (OpenBLAS picks
# its kernels for the CPU), so recorded outputs count as current within 1e-12, a millionth of the
# grading tolerance; ids, functions, inputs and hint texts must be identical.
VECTOR_RTOL, VECTOR_ATOL = 1e-12, 1e-15


def _fresh_vectors(course: coursedir.CourseDir, tmp: Path) -> dict[str, Path]:
    """Exercise -> the vector file recording the course's public suites now writes (into tmp)."""
    from autograder.course.record import record_all

    return {p.stem: p for p in record_all(tmp, course.public_suites)}


def _stale_vectors(course: coursedir.CourseDir) -> list[str]:
    """Public vector files that differ from what recording them now would write (outputs within VECTOR_RTOL)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        fresh = {name: _cases(p.parent, name) for name, p in _fresh_vectors(course, Path(tmp)).items()}
    current = {p.stem: _cases(course.vectors, p.stem) for p in course.vectors.glob("*.json")}
    return sorted(f"{name}.json" for name in fresh.keys() | current.keys()
                  if name not in fresh or name not in current or not _same_cases(fresh[name], current[name]))


def update_vectors(course: coursedir.CourseDir) -> list[str]:
    """Record the public vectors; write only the files out of tolerance, delete stale ones; the names changed.

    A file within VECTOR_RTOL of a fresh recording is kept byte for byte, so releasing a course
    that is in sync leaves its tree clean on any machine (whatever its BLAS's last bits).
    """
    import shutil
    import tempfile

    changed = []
    with tempfile.TemporaryDirectory() as tmp:
        fresh = _fresh_vectors(course, Path(tmp))
        course.vectors.mkdir(parents=True, exist_ok=True)
        for name, path in sorted(fresh.items()):
            if not _same_cases(_cases(path.parent, name), _cases(course.vectors, name)):
                shutil.copyfile(path, course.vectors / path.name)
                changed.append(path.name)
    for path in sorted(course.vectors.glob("*.json")):
        if path.stem not in fresh:
            path.unlink()
            changed.append(f"{path.name} (deleted: no public suite records it)")
    return changed


def _cases(directory: Path, exercise: str) -> list | None:
    from autograder.course.vectors import recorded

    try:
        return recorded(exercise, directory)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: stale


def _same_cases(a: list | None, b: list | None) -> bool:
    from autograder.suites.feedback import difference
    from autograder.course.vectors import encode

    def close(x, y) -> bool:
        return difference(x, y, VECTOR_RTOL, VECTOR_ATOL) is None and difference(y, x, VECTOR_RTOL, VECTOR_ATOL) is None

    if a is None or b is None or len(a) != len(b):
        return False
    return all(
        (x.id, x.function, encode(x.args), encode(x.kwargs)) == (y.id, y.function, encode(y.args), encode(y.kwargs))
        and close(x.expected, y.expected)
        and [t for t, _ in x.hints] == [t for t, _ in y.hints]
        and all(close(o, p) for (_, o), (_, p) in zip(x.hints, y.hints))
        for x, y in zip(a, b)
    )


def main(argv: list[str] | None = None) -> int:
    """`dlgrade release [--check] [--solutions DIR] [--exercises DIR]`; argv excludes the subcommand."""
    parser = argparse.ArgumentParser(prog="dlgrade release", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _regions(source: str, filename: str) -> list[tuple[int, int]]:
    """(begin, end) line numbers (1-based) of the marked regions, markers included, in order."""
    regions, open_line = [], None
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    # Only comment tokens: marker text inside a string is not a marker.
    for tok in tokens:
        if tok.type != tokenize.COMMENT or not _MARKER_LIKE.search(tok.string):
            continue
        line = tok.start[0]
        text = tok.string.strip()
        if text not in (BEGIN, END) or tok.line.strip() != text:
            raise ReleaseError(f"{filename}:{line}: a marker must be alone on its line, exactly {BEGIN!r} or {END!r}")
        if text == BEGIN:
            if open_line is not None:
                raise ReleaseError(f"{filename}:{line}: nested {BEGIN} (the region opened at line {open_line} is not closed)")
            open_line = line
        else:
            if open_line is None:
                raise ReleaseError(f"{filename}:{line}: {END} without {BEGIN}")
            regions.append((open_line, line))
            open_line = None
    if open_line is not None:
        raise ReleaseError(f"{filename}:{open_line}: {BEGIN} without {END}")
    return regions


def _parse(text: str, filename: str, what: str, origin: list[int] | None = None) -> ast.Module:
    """ast of text, or ReleaseError at the source line (origin maps stub lines back to the solution's)."""
    try:
        return ast.parse(text, filename=filename)
    except (SyntaxError, ValueError) as exc:  # ValueError: a null byte (Python 3.11)
        line = getattr(exc, "lineno", None) or 1
        if origin:
            line = origin[min(line, len(origin)) - 1]
        raise ReleaseError(f"{filename}:{line}: {what} does not parse: {getattr(exc, 'msg', exc)}") from None


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _enclosing_functions(tree: ast.Module, count: int) -> list[ast.FunctionDef | ast.AsyncFunctionDef | None]:
    """For each placeholder raise 0..count-1, the innermost function whose body holds it (None: none)."""
    found: list = [None] * count
    scopes = (*_FUNCTIONS, ast.ClassDef, ast.Lambda)

    def visit(node: ast.AST, scope: ast.AST | None) -> None:
        if isinstance(node, ast.Raise):
            index = _placeholder_index(node)
            if index is not None and isinstance(scope, _FUNCTIONS):
                found[index] = scope
        inner = node if isinstance(node, scopes) else scope
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, None)
    return found


def _first_statement_outside(tree: ast.Module, begin: int, end: int, def_line: int) -> int | None:
    """Line of the first statement between the markers that is not inside the function defined at def_line.

    Catches a region whose END marker sits after the function's end, which
    would silently swallow the code that follows it.
    """
    def visit(node: ast.AST, inside: bool) -> int | None:
        if isinstance(node, ast.stmt) and begin < node.lineno < end and not inside:
            return node.lineno
        inside = inside or (isinstance(node, _FUNCTIONS) and node.lineno == def_line)
        for child in ast.iter_child_nodes(node):
            line = visit(child, inside)
            if line is not None:
                return line
        return None

    return visit(tree, False)


def _placeholder_index(node: ast.Raise) -> int | None:
    exc = node.exc
    if isinstance(exc, ast.Call) and len(exc.args) == 1 and isinstance(exc.args[0], ast.Constant):
        match = re.fullmatch(_PLACEHOLDER.format(r"(\d+)"), str(exc.args[0].value))
        if match:
            return int(match.group(1))
    return None


def _solution_files(solutions_dir: Path) -> list[Path]:
    if not solutions_dir.is_dir():
        raise ReleaseError(f"{solutions_dir}: not a directory")
    return sorted(p for p in solutions_dir.glob("*.py") if p.is_file())


def _render_all(solutions_dir: Path) -> dict[str, str]:
    """Stub name -> stub text for every solution file and lab notebook; ReleaseError listing every broken file."""
    stubs, errors = {}, []
    for path in _solution_files(solutions_dir):
        try:
            stubs[path.name] = strip_solutions(path.read_bytes().decode("utf-8"), _show(path))
        except ReleaseError as exc:
            errors.append(str(exc))
    from autograder.course import notebooks  # here, not at the top: it imports this module

    for path in notebooks.source_notebooks(solutions_dir):
        try:
            stubs[path.name] = notebooks.student_notebook(path.read_bytes().decode("utf-8"), _show(path))
        except (ReleaseError, UnicodeDecodeError) as exc:
            errors.append(str(exc) if isinstance(exc, ReleaseError) else f"{_show(path)}: not UTF-8 ({exc})")
    if errors:
        raise ReleaseError("\n".join(errors))
    return stubs


def _released_files(exercises_dir: Path) -> list[Path]:
    """The files release owns in exercises_dir: the stubs (*.py) and the student notebooks (*.ipynb)."""
    return sorted(p for pattern in ("*.py", "*.ipynb") for p in exercises_dir.glob(pattern))


def _out_of_sync(solutions_dir: Path, exercises_dir: Path) -> dict[str, str]:
    """Stub name -> "differs" / "missing" / "extra" for every stub not as release would write it."""
    stubs = _render_all(solutions_dir)
    present = {p.name for p in _released_files(exercises_dir)} if exercises_dir.is_dir() else set()
    problems = {name: "extra (no solution file)" for name in present - set(stubs)}
    for name, text in stubs.items():
        path = exercises_dir / name
        if name not in present:
            problems[name] = "missing"
        elif path.read_bytes() != text.encode("utf-8"):
            problems[name] = "differs from its solution"
    return problems


def _has_transfer(course: coursedir.CourseDir) -> bool:
    """Whether this course grades the transfer task (its public suite is there)."""
    return (course.public_suites / "test_transfer.py").is_file()


def _base_problems(course: coursedir.CourseDir) -> list[str]:
    """What is wrong with the transfer base model ([] when fine or the course has no transfer task)."""
    if not _has_transfer(course):
        return []
    from autograder.course import transfer_base

    return transfer_base.problems(course.grader)


def _show(path: Path) -> str:
    """path relative to the working directory when it lies below it (shorter messages)."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd().resolve()) else str(path)
    except ValueError:
        return str(path)
