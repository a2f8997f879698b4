"""The `dlgrade` command line: a thin dispatcher to one module per command."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

COMMANDS = {
    "check": ("autograder.grading.check", "run the public checks on your exercise files"),
    "grade": ("autograder.grading.grade", "grade every submission with the full suites"),
    "report": ("autograder.reports.report", "render feedback and the class summary from OUT/results"),
    "similarity": ("autograder.reports.similarity", "staff-only report of unusually similar code (OUT/similarity.html)"),
    "regrade-preview": ("autograder.grading.regrade", "grade the class again after a change and show whose scores would move"),
    "release": ("autograder.course.release", "regenerate exercises/ from solutions/"),
    "demo": ("autograder.course.demo", "grade the bundled sample submissions"),
    "gradescope": ("autograder.gradescope.bundle", "build the Gradescope autograder bundle (a .zip)"),
}


def shipped(module: str) -> bool:
    """Whether this copy of the package has the command's module (the student bundle has only `check`'s).

    Looked up as a file beside this one, not imported: an installed copy of the whole project (an
    editable install) would otherwise stand in for what the bundle does not ship.
    """
    return Path(__file__).resolve().parent.joinpath(*module.split(".")[1:]).with_suffix(".py").is_file()


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = argparse.ArgumentParser(prog="dlgrade", description="Autograder for the intro deep-learning course.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        if not shipped(module):
            continue  # the student bundle ships only `check`
        mod = importlib.import_module(module)
        p = sub.add_parser(name, help=help_, description=help_)
        if hasattr(mod, "add_arguments"):
            mod.add_arguments(p)
        p.set_defaults(run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
