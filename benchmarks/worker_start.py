"""What starting one view's worker costs: a bubblewrap of its own, against a fork from the session's launcher.

Each round starts a worker on a one-file submission, makes one call and closes it, as a grading
session does for each view. Prints milliseconds per start, wall and the whole machine's CPU
(/proc/stat: bubblewrap, Python, the numpy import, the kernel's namespace work), for a worker in
its own bubblewrap, one forked by a launcher (sandbox/launcher.py; as root only) and, for
reference, an unsandboxed one. Run it on a quiet machine.

    .venv/bin/python benchmarks/worker_start.py [--n 40]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.sandbox.client import Worker, bwrap_available  # noqa: E402
from autograder.sandbox.launcher import Launcher  # noqa: E402

MODULE = "import numpy as np\n\ndef double(x):\n    return np.asarray(x) * 2\n"


def machine_busy() -> float:
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def rounds(n: int, folder: str, **options) -> tuple[float, float]:
    """(wall ms, machine CPU ms) per start-call-close."""
    busy, start = machine_busy(), time.perf_counter()
    for _ in range(n):
        with Worker(folder, uid=60999, gid=60999, **options) as worker:
            result = worker.call("m", "double", [1.0])
            if not result.ok:
                raise SystemExit(f"the worker failed: {result.message}")
    return (time.perf_counter() - start) / n * 1e3, (machine_busy() - busy) / n * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="starts per kind")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="dlgrade-start-")
    Path(folder, "m.py").write_text(MODULE)
    kinds = {"unsandboxed": {"sandbox": "none"}}
    if bwrap_available():
        kinds["bubblewrap of its own"] = {"sandbox": "bwrap"}
        if os.geteuid() == 0:
            launcher = Launcher()
            kinds["forked by the launcher"] = {"sandbox": "bwrap", "launcher": launcher}
    for name, options in kinds.items():
        wall, cpu = rounds(args.n, folder, **options)
        print(f"  {name:24s} {wall:6.1f} ms wall {cpu:6.1f} ms CPU per worker start")
    if "forked by the launcher" in kinds:
        launcher = kinds["forked by the launcher"]["launcher"]
        print(f"  (the launcher forked {launcher.forked} workers{'; ' + launcher.broken if launcher.broken else ''})")
        launcher.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
