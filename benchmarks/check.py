"""Time `dlgrade check` (the public checks of all seven numpy exercises) on the model answers.

Prints the median wall time of a few runs in the bubblewrap sandbox, and, as a baseline
from the same run, the time without the sandbox and the bare start-up of the trusted
pytest process. Goal (issue 4): at most 5 s on the 2-core machine.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 3


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.perf_counter() - start, done.returncode


def median_of(cmd: list[str], cwd: Path) -> float:
    runs = []
    for _ in range(REPEATS):
        seconds, rc = timed(cmd, cwd)
        if rc != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {rc}")
        runs.append(seconds)
    return statistics.median(runs)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "mine"
        shutil.copytree(ROOT / "solutions", work, ignore=shutil.ignore_patterns("*.ipynb", "cnn.py", "__pycache__"))
        check = [sys.executable, "-m", "autograder", "check", "--dir", str(work)]
        startup = median_of([sys.executable, "-c", "import pytest, hypothesis, numpy"], ROOT)
        sandboxed = median_of(check + ["--sandbox", "bwrap"], ROOT) if shutil.which("bwrap") else float("nan")
        plain = median_of(check + ["--sandbox", "none"], ROOT)
    load = os.getloadavg()[0]
    print(f"dlgrade check, 7 numpy exercises, model answers ({REPEATS} runs, median; load average {load:.1f}, {os.cpu_count()} cores)")
    print(f"  sandboxed (bwrap):   {sandboxed:6.2f} s   goal <= 5 s")
    print(f"  unsandboxed:         {plain:6.2f} s   (sandbox overhead x{sandboxed / plain:.2f})")
    print(f"  bare start-up:       {startup:6.2f} s   (python + pytest + hypothesis + numpy imports)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
