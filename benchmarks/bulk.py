"""Time `dlgrade grade` on a synthetic class: seconds per submission per core for the numpy exercises.

The class mixes model answers, single-bug variants from the mistake corpus
(tests/autograder/mutants/) and missing files, drawn with a fixed seed. It is graded with
--jobs = cores, as `dlgrade grade` runs by default: identical exercise files are graded once
(autograder/grading/reuse.py). Goal (issue 5): at most 1 s per submission per core.

Property tests replay the examples recorded where they first passed (autograder/grading/replay.py).

Baselines from the same run, on the first --compare submissions of the class:
  * the same files with --no-reuse --no-replay (every file graded, every example generated
    by hypothesis: as before either existed);
  * "distinct": the same files, each made unique by a comment naming its student, graded
    by default: what a class of independently written files costs, where reuse finds
    nothing but untouched stubs and missing files;
  * one complete model answer graded alone.

    python benchmarks/bulk.py [--n 100] [--compare 20] [--jobs N] [--only activations,losses]
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.course.config import NUMPY_EXERCISES  # noqa: E402

SOLUTION_SHARE, MUTANT_SHARE = 0.6, 0.3  # the rest: the file is missing


def mutants(exercise: str) -> list[tuple[str, str, str]]:
    """(id, old, new) of the corpus' single-bug variants that apply to the current solution."""
    path = ROOT / "tests" / "autograder" / "mutants" / f"{exercise}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"_bulk_mutants_{exercise}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    source = (ROOT / "solutions" / f"{exercise}.py").read_text()
    return [(mid, old, new) for mid, old, new, _ in module.MUTANTS if source.count(old) == 1]


def build_class(dest: Path, n: int, exercises: list[str], seed: int) -> dict[str, int]:
    """n submissions under dest; returns how many files of each kind were written."""
    rng = random.Random(seed)
    corpus = {e: mutants(e) for e in exercises}
    counts = {"solution": 0, "mutant": 0, "missing": 0}
    for i in range(n):
        sub = dest / f"s{i:03d}"
        sub.mkdir(parents=True)
        for e in exercises:
            source = (ROOT / "solutions" / f"{e}.py").read_text()
            r = rng.random()
            if r < SOLUTION_SHARE or (r < SOLUTION_SHARE + MUTANT_SHARE and not corpus[e]):
                (sub / f"{e}.py").write_text(source)
                counts["solution"] += 1
            elif r < SOLUTION_SHARE + MUTANT_SHARE:
                _, old, new = rng.choice(corpus[e])
                (sub / f"{e}.py").write_text(source.replace(old, new))
                counts["mutant"] += 1
            else:
                counts["missing"] += 1
    return counts


def copy_class(src: Path, dest: Path, n: int, distinct: bool) -> None:
    """The first n submissions of src under dest; `distinct` appends a comment naming the student to each file."""
    for sub in sorted(src.iterdir())[:n]:
        (dest / sub.name).mkdir(parents=True)
        for f in sub.iterdir():
            text = f.read_text() + (f"\n# written by {sub.name}\n" if distinct else "")
            (dest / sub.name / f.name).write_text(text)


def grade(subs: Path, out: Path, exercises: list[str], jobs: int, *extra: str) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of the grading processes, exit status) of one `dlgrade grade` run."""
    from autograder.sandbox.client import bwrap_available

    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--only", ",".join(exercises),
           "--jobs", str(jobs), *([] if bwrap_available() else ["--unsafe-no-sandbox"]), *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode not in (0, 1):
        raise SystemExit(f"dlgrade grade exited {done.returncode}:\n{done.stderr[-3000:]}")
    return wall, cpu, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="submissions in the class")
    parser.add_argument("--compare", type=int, default=20, help="submissions graded for the baselines")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", default=",".join(NUMPY_EXERCISES), help="exercises to grade")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the class and the outputs here")
    args = parser.parse_args()
    exercises = args.only.split(",")
    cores = os.cpu_count() or 1
    tmp = Path(tempfile.mkdtemp(prefix="dlgrade-bulk-"))
    work = args.keep or tmp
    try:
        alone = work / "alone"
        (alone / "subs" / "model").mkdir(parents=True)
        for e in exercises:
            shutil.copy(ROOT / "solutions" / f"{e}.py", alone / "subs" / "model")
        load_start = os.getloadavg()
        one_wall, one_cpu, _ = grade(alone / "subs", alone / "out", exercises, 1)
        one_exec = json.loads((alone / "out" / "results" / "model.json").read_text())["execution_time"]

        counts = build_class(work / "class", args.n, exercises, args.seed)
        wall, cpu, status = grade(work / "class", work / "out", exercises, args.jobs)
        with open(work / "out" / "grades.csv") as f:
            rows = list(csv.DictReader(f))
        failed = sum(1 for r in rows if r["total"] == "")
        mean = sum(float(r["total"]) for r in rows if r["total"]) / max(1, len(rows) - failed)
        m = min(args.compare, args.n)
        copy_class(work / "class", work / "plain", m, distinct=False)
        plain = grade(work / "plain", work / "out-plain", exercises, args.jobs, "--no-reuse", "--no-replay")
        copy_class(work / "class", work / "distinct", m, distinct=True)
        distinct = grade(work / "distinct", work / "out-distinct", exercises, args.jobs)
        head = (work / "out" / "grades.csv").read_text().splitlines()[: m + 1]
        same = (work / "out-plain" / "grades.csv").read_text().splitlines() == head
        same_distinct = (work / "out-distinct" / "grades.csv").read_text().splitlines() == head
        load_end = os.getloadavg()
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    print(f"dlgrade grade: {args.n} synthetic submissions x {len(exercises)} exercises ({', '.join(exercises)})")
    print(f"  files: {counts['solution']} model answers, {counts['mutant']} single-bug variants, {counts['missing']} missing")
    print(f"  machine: {cores} cores; load average {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end")
    print(f"  baseline, one submission alone: {one_wall:.1f} s wall for the command "
          f"({one_exec:.1f} s grading it), {one_cpu:.1f} s CPU")
    print(f"  class with --jobs {args.jobs}: {wall:.1f} s wall, {cpu:.0f} s CPU; exit {status}, "
          f"{failed} could not be graded, mean total {mean:.2f}")
    print(f"  => {wall * cores / args.n:.2f} s per submission per core (wall x cores / submissions; goal <= 1 s)")
    print(f"     {cpu / args.n:.2f} CPU s per submission (independent of the machine's load)")
    for label, (w, c, _) in (("same files, --no-reuse --no-replay", plain), ("distinct files (nothing shared)", distinct)):
        print(f"  baseline, first {m} submissions, {label}: {w:.1f} s wall, {c:.0f} s CPU => "
              f"{w * cores / m:.2f} s per submission per core, {c / m:.2f} CPU s per submission")
    print(f"  grades of the first {m} identical in the three runs: {same and same_distinct}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
