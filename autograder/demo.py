"""`dlgrade demo`: grade the bundled sample class in examples/submissions/ and say where the results are."""
from __future__ import annotations

import argparse
from pathlib import Path

from autograder import grade

ROOT = Path(__file__).resolve().parent.parent


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo", help="where to write the results")


def run(args: argparse.Namespace) -> int:
    submissions = ROOT / "examples" / "submissions"
    if not submissions.is_dir():
        print(f"dlgrade demo: {submissions} is missing (it ships with the source tree)")
        return 2
    print(f"Grading the sample class in {submissions} ...")
    ns = argparse.Namespace(
        submissions=submissions, out=args.out, only=None, skip="cnn", course=None, unsafe_no_sandbox=False
    )
    status = grade.run(ns)
    print(f"\nResults: {args.out / 'results'}/<student>.json")
    return status
