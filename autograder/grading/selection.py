"""Which exercises a run grades: --only/--skip checked, and those that have grading suites."""
from __future__ import annotations

import argparse

from autograder.course.config import EXERCISES
from autograder.grading.runner import suite_files


def exercises_from(args: argparse.Namespace) -> list[str]:
    """The exercises to grade after --only/--skip; ValueError naming an unknown one."""
    chosen = args.only.split(",") if args.only else list(EXERCISES)
    skipped = args.skip.split(",") if args.skip else []
    for name in chosen + skipped:
        if name not in EXERCISES:
            raise ValueError(f"unknown exercise {name!r}; choose from {', '.join(EXERCISES)}")
    return [e for e in chosen if e not in skipped]


def with_suites(exercises: list[str], explicit: bool) -> tuple[list[str], list[str]]:
    """(exercises that have grading suites, those without); an explicitly chosen one without suites is an error."""
    have = [e for e in exercises if suite_files([e], hidden=True)]
    missing = [e for e in exercises if e not in have]
    if missing and explicit:
        raise ValueError(f"no grading suites for {', '.join(missing)}")
    if not have:
        raise ValueError("no exercise left to grade")
    return have, missing
