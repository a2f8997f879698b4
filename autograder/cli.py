"""The `dlgrade` command line: a thin dispatcher to one module per command."""
from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dlgrade", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="grade the bundled sample submissions")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        print("dlgrade demo: grading of examples/submissions/ is not built yet.")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
