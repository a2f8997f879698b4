import os
import sys

# `python -m autograder` puts the current directory first on sys.path: a student's folder
# must never shadow the grader's imports (a numpy.py there, say).
sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]

# pyproject.toml's requires-python (config.py reads course.toml with tomllib): the student
# bundle has no installer to say so, so it is said here rather than by a failed import.
MIN_PYTHON = (3, 11)
if sys.version_info < MIN_PYTHON:
    raise SystemExit("dlgrade needs Python %d.%d or newer; this is Python %d.%d (%s)"
                     % (*MIN_PYTHON, *sys.version_info[:2], sys.executable))

from autograder.cli import main  # noqa: E402

if __name__ == "__main__":  # `python -m autograder`, not an import of this module
    raise SystemExit(main())
