"""One Python version everywhere: pyproject.toml's requires-python is what the README and the grader say."""
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from autograder.course import bundle

ROOT = Path(__file__).resolve().parents[2]


def required() -> str:
    """'3.11' from requires-python = ">=3.11"."""
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    match = re.fullmatch(r">=\s*(3\.\d+)", spec.strip())
    assert match, f"requires-python {spec!r}: expected a plain lower bound, >=3.N"
    return match.group(1)


def test_every_python_version_in_the_docs_is_the_required_one():
    for name, text in (("README.md", (ROOT / "README.md").read_text()), ("the student bundle's README", bundle.README)):
        said = set(re.findall(r"Python (3\.\d+)", text))
        assert said == {required()}, f"{name} names Python {sorted(said)}; pyproject.toml requires {required()}"


def test_the_entry_point_refuses_an_older_python_with_a_clear_message():
    source = (ROOT / "autograder" / "__main__.py").read_text()  # not imported: it edits sys.path
    bound = re.search(r"^MIN_PYTHON = \((\d+), (\d+)\)$", source, re.MULTILINE)
    assert bound and f"{bound[1]}.{bound[2]}" == required()
    # The check itself, run on this Python with the bound raised past it.
    code = source.replace(bound[0], f"MIN_PYTHON = ({sys.version_info[0]}, {sys.version_info[1] + 1})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"dlgrade needs Python 3.{sys.version_info[1] + 1} or newer; this is Python 3.{sys.version_info[1]}" in done.stderr
