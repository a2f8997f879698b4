"""The student bundle: exercises, public checks and what `dlgrade check` needs, and nothing of dlref/ or solutions/."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "autograder"
# The grader modules `dlgrade check` needs. Deliberately a list, not a glob: a new module that
# imports the reference (differential, mistakes, record, ...) must never ship by accident.
CHECK_MODULES = (
    "__init__.py", "__main__.py", "cli.py",
    "course/__init__.py", "course/config.py", "course/contract.py", "course/coursedir.py", "course/vectors.py",
    "grading/__init__.py", "grading/check.py", "grading/notebook_code.py", "grading/packing.py",
    "grading/replay.py", "grading/results.py", "grading/reuse.py", "grading/runner.py", "grading/trusted_fork.py",
    "suites/__init__.py", "suites/common.py", "suites/expect.py", "suites/feedback.py", "suites/numgrad.py", "suites/plugin.py",
    "suites/reporting.py", "suites/rounds.py", "suites/session.py", "suites/strategies.py", "suites/student.py",
    "suites/tuning_table.py",
    "suites/workers.py",
    "sandbox/__init__.py", "sandbox/bwrap.py", "sandbox/client.py", "sandbox/cnn.py", "sandbox/limits.py",
    "sandbox/launcher.py", "sandbox/messages.py", "sandbox/stage.py", "sandbox/transfer.py",
    "inside/__init__.py", "inside/arguments.py", "inside/cnn_driver.py", "inside/confine.py", "inside/protocol.py",
    "inside/worker.py",
    "inside/launcher.py", "inside/transfer_driver.py",
)  # fmt: skip
# What `python3 -m autograder check` and the CNN lab need. Keras with one backend, TensorFlow, the
# one the grader trains with by default; matplotlib for the lab's plots.
REQUIREMENTS = """numpy>=1.26,<3
hypothesis>=6.100,<7
pytest>=8,<10
keras>=3.3,<4
tensorflow>=2.16,<2.22
matplotlib>=3.7,<4
"""
README = """# Intro to Deep Learning: exercises

1. With Python 3.11 or newer, install the checker's dependencies once, in a virtual environment
   (Debian and Ubuntu refuse `pip install` into the system's Python; there, `sudo apt install
   python3-venv` first):
   ```sh
   python3 -m venv .venv
   . .venv/bin/activate          # Windows: .venv\\Scripts\\activate
   python3 -m pip install -r requirements.txt
   ```
   (TensorFlow is large; the numpy exercises need only numpy, hypothesis and pytest.)
2. Implement the functions in `exercises/` (each raises NotImplementedError until you do;
   the docstrings give the formulas, shapes and hints).
3. Check your work, from this folder, with the environment active:
   `python3 -m autograder check` (all numpy exercises) or `python3 -m autograder check conv` (one).
   The public checks compare with recorded answers, test properties, and compare your
   gradients with numerical derivatives of your own functions. Hidden tests run when
   your work is graded.
4. The CNN lab: write `exercises/cnn.py`, or the cells of `exercises/cnn_fashion_mnist.ipynb`
   (open it with `pip install notebook` then `jupyter notebook`). `python3 -m autograder check cnn`
   checks either: with no cnn.py in the folder, the notebook's code cells are checked as cnn.py,
   as when graded. To run the whole notebook quickly (a small subset of the data, one epoch),
   start Jupyter with `CNN_LAB_QUICK=1`, or run it headless:
   `CNN_LAB_QUICK=1 jupyter nbconvert --to notebook --execute exercises/cnn_fashion_mnist.ipynb`.
   The transfer-learning lab: `exercises/transfer.py`, or the cells of
   `exercises/transfer_fashion_mnist.ipynb` (checked with `python3 -m autograder check transfer`;
   `TRANSFER_LAB_QUICK=1` runs the notebook quickly). The base model it reuses is in
   `autograder/course/data/`.
5. Submit the files in `exercises/` (or the lab notebook).

On Linux with bubblewrap installed (`apt install bubblewrap`) your code runs sandboxed, as it
will when graded; elsewhere it runs unsandboxed, with a notice.
"""


def build(exercises: Path, out: Path, grader: Path = PACKAGE, course_toml: Path = ROOT / "course.toml") -> Path:
    """Write the bundle folder `out` and `out`.zip from a course's grader package and course.toml; returns the zip's path."""
    if out.exists():
        shutil.rmtree(out)
    (out / "autograder" / "suites" / "public" / "data").mkdir(parents=True)
    for name in CHECK_MODULES:
        (out / "autograder" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(grader / name, out / "autograder" / name)
    shutil.copy2(grader / "suites" / "pytest.ini", out / "autograder" / "suites" / "pytest.ini")
    public = grader / "suites" / "public"
    for path in sorted(public.glob("test_*.py")) + sorted((public / "data").glob("*.json")):
        shutil.copy2(path, out / "autograder" / "suites" / "public" / path.relative_to(public))
    data = grader / "course" / "data"  # the transfer task's base model and its metadata
    for path in sorted(data.glob("transfer_base.*")) if data.is_dir() else []:
        (out / "autograder" / "course" / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, out / "autograder" / "course" / "data" / path.name)
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
