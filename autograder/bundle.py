"""The student bundle: exercises, public checks and what `dlgrade check` needs, and nothing of dlref/ or solutions/."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "autograder"
# The grader modules `dlgrade check` needs. Deliberately a list, not a glob: a new module that
# imports the reference (differential, mistakes, record, ...) must never ship by accident.
CHECK_MODULES = (
    "__init__.py", "__main__.py", "cli.py", "check.py", "cnn_driver.py", "cnn_sandbox.py", "config.py", "contract.py",
    "coursedir.py", "expect.py",
    "feedback.py", "numgrad.py", "packing.py", "plugin.py", "protocol.py", "replay.py", "results.py", "reuse.py", "runner.py", "sandbox.py",
    "strategies.py", "student.py", "vectors.py", "worker.py",
)  # fmt: skip
REQUIREMENTS = "numpy>=1.26,<3\nhypothesis>=6.100,<7\npytest>=8,<10\n"
README = """# Intro to Deep Learning: exercises

1. With Python 3.11 or newer, install the checker's dependencies (once):
   `python3 -m pip install -r requirements.txt`
2. Implement the functions in `exercises/` (each raises NotImplementedError until you do).
3. Check your work: `python3 -m autograder check` (all exercises) or
   `python3 -m autograder check conv` (one), run from this folder.
   The public checks compare with recorded answers, test properties, and compare your
   gradients with numerical derivatives of your own functions. Hidden tests run when
   your work is graded.
4. Submit the files in `exercises/`.

On Linux with bubblewrap installed (`apt install bubblewrap`) your code runs sandboxed, as it
will when graded; elsewhere it runs unsandboxed, with a notice.
"""


def build(exercises: Path, out: Path, grader: Path = PACKAGE, course_toml: Path = ROOT / "course.toml") -> Path:
    """Write the bundle folder `out` and `out`.zip from a course's grader package and course.toml; returns the zip's path."""
    if out.exists():
        shutil.rmtree(out)
    (out / "autograder" / "suites" / "public" / "data").mkdir(parents=True)
    for name in CHECK_MODULES:
        shutil.copy2(grader / name, out / "autograder" / name)
    shutil.copy2(grader / "suites" / "pytest.ini", out / "autograder" / "suites" / "pytest.ini")
    public = grader / "suites" / "public"
    for path in sorted(public.glob("test_*.py")) + sorted((public / "data").glob("*.json")):
        shutil.copy2(path, out / "autograder" / "suites" / "public" / path.relative_to(public))
    shutil.copytree(exercises, out / "exercises", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(course_toml, out / "course.toml")
    (out / "requirements.txt").write_text(REQUIREMENTS)
    (out / "README.md").write_text(README)
    archive = out.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(out.rglob("*")):
            if path.is_file():
                zf.write(path, Path(out.name) / path.relative_to(out))
    return archive
