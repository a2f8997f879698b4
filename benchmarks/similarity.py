"""Time `dlgrade similarity` on a synthetic class: 300 students x the 7 numpy exercise files.

Every file is distinct: each student's file starts from the model answer or one of the
catalogued single-bug variants (tests/autograder/mutants/), then gets its own local names,
function order, comments and a few statements of their own (checks, intermediate names), as
independently written answers have. A few students hand in a disguised copy of a classmate's
file (renamed, reordered, recommented, a statement added here and there); the benchmark also
says whether those pairs are among the ones shown side by side.
Goal (issue 18): under one minute on 2 cores.

    python benchmarks/similarity.py [--n 300] [--copies 10] [--seed 0] [--keep DIR]
"""
from __future__ import annotations

import argparse
import ast
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from autograder.course.config import NUMPY_EXERCISES  # noqa: E402
from bulk import mutants  # noqa: E402

MUTANT_SHARE, ZIP_SHARE = 0.3, 0.1
EXTRAS = [  # statements a student may add; {v} is a parameter, {n} a number of their own
    "assert np.all(np.isfinite({v})), 'input must be finite'",
    "{v} = np.asarray({v}, dtype=np.float64).copy()",
    "debug_{n} = np.shape({v})",
    "if np.ndim({v}) > {n}:\n        raise ValueError('too many dimensions: %d' % np.ndim({v}))",
    "scale_{n} = {n}.0 * 1e-12",
    "for _axis in range(np.ndim({v})):\n        pass  # checked {n}",
]


def local_names(source: str) -> list[str]:
    """Names assigned inside functions (safe to rename: never part of the exercise's API)."""
    names = set()
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
    return sorted(names)


def rewrite(source: str, rng: random.Random, tag: str, extras: float = 0.8) -> str:
    """The same code as a different student writes it: names, order, comments, a few statements of their own."""
    for name in local_names(source):
        if rng.random() < 0.7:
            source = re.sub(rf"\b{name}\b", f"{name}_{tag}", source)
    source = "\n".join(line for line in source.splitlines() if "### " not in line) + "\n"
    head, *defs = re.split(r"\n(?=def |class |@)", source)
    out = []
    for d in defs:
        params = re.match(r"def \w+\(([^)]*)\)", d)
        names = [p.split("=")[0].strip() for p in params.group(1).split(",")] if params else []
        names = [n for n in names if n and n.isidentifier()]
        if names and rng.random() < extras:
            body_at = d.find('"""\n', d.find('"""') + 3)
            if body_at > 0:
                extra = rng.choice(EXTRAS).format(v=rng.choice(names), n=rng.randint(2, 99))
                d = d[:body_at + 4] + f"    {extra}\n" + d[body_at + 4:]
        out.append(d.rstrip("\n") + (f"  # {tag} {rng.randint(0, 999)}\n" if rng.random() < 0.5 else "\n"))
    rng.shuffle(out)
    return head.rstrip("\n") + f"\n# {tag}'s answers\n\n\n" + "\n\n".join(out)


def build_class(dest: Path, n: int, copies: int, seed: int) -> list[tuple[str, str, str]]:
    """n submissions under dest; returns the planted copies as (exercise, original, copier)."""
    rng = random.Random(seed)
    corpus = {e: mutants(e) for e in NUMPY_EXERCISES}
    files: dict[str, dict[str, str]] = {}
    for i in range(n):
        student = f"s{i:03d}"
        files[student] = {}
        for e in NUMPY_EXERCISES:
            source = (ROOT / "solutions" / f"{e}.py").read_text()
            if corpus[e] and rng.random() < MUTANT_SHARE:
                _, old, new = rng.choice(corpus[e])
                source = source.replace(old, new)
            files[student][e] = rewrite(source, rng, student)
    planted = []
    students = sorted(files)
    for _ in range(copies):
        original, copier = rng.sample(students, 2)
        e = rng.choice(NUMPY_EXERCISES)
        # Disguised: renamed, reordered, recommented, a statement added here and there.
        files[copier][e] = rewrite(files[original][e], rng, copier, extras=0.2)
        planted.append((e, original, copier))
    for student, by_exercise in files.items():
        if rng.random() < ZIP_SHARE:
            with zipfile.ZipFile(dest / f"{student}.zip", "w") as zf:
                for e, text in by_exercise.items():
                    zf.writestr(f"{student}/{e}.py", text)
        else:
            (dest / student).mkdir(parents=True)
            for e, text in by_exercise.items():
                (dest / student / f"{e}.py").write_text(text)
    return planted


def fake_results(out: Path, subs: Path) -> None:
    """A results file per student that records the submissions folder, as `dlgrade grade` writes it."""
    (out / "results").mkdir(parents=True)
    for entry in subs.iterdir():
        student = entry.stem if entry.suffix == ".zip" else entry.name
        result = {"score": 0, "tests": [], "extra_data": {"student": student, "submission": {"folder": str(subs)}}}
        (out / "results" / f"{student}.json").write_text(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="students in the class")
    parser.add_argument("--copies", type=int, default=10, help="disguised copies planted in the class")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the class and OUT here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="dlgrade-similarity-bench-"))
    try:
        subs, out = work / "subs", work / "out"
        subs.mkdir(parents=True)
        planted = build_class(subs, args.n, args.copies, args.seed)
        fake_results(out, subs)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "autograder", "similarity", str(out),
                               "--only", ",".join(NUMPY_EXERCISES)], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"dlgrade similarity exited {done.returncode}:\n{done.stderr[-3000:]}")
        from autograder.reports import similarity

        found = 0
        report = similarity.build(out, exercises=list(NUMPY_EXERCISES))
        for e, original, copier in planted:
            part = next(x for x in report.exercises if x.exercise == e)
            top = {frozenset((p.a, p.b)) for p in part.pairs[:similarity.TOP]}
            found += frozenset((original, copier)) in top
        size = (out / "similarity.html").stat().st_size
        print(f"{args.n} students x {len(NUMPY_EXERCISES)} exercise files: `dlgrade similarity` took {wall:.1f} s "
              f"wall, {cpu:.1f} s CPU (one process; goal: under 60 s on 2 cores); similarity.html {size / 1e6:.1f} MB")
        print(f"planted disguised copies among the {similarity.TOP} pairs shown side by side per exercise: "
              f"{found} of {len(planted)}")
        print(done.stdout.strip())
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
