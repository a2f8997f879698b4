"""A class of CNN submissions graded by `dlgrade grade`, against the same trainings run bare, in one run.

The class (8 students): the model answer (solutions/cnn.py), the reference (dlref/cnn.py),
variations of both (a wider first convolution, a smaller batch, fewer epochs), the lab
notebook's model, and one whose `train` never stops. Grading runs the public CNN checks (a short training on
synthetic images), the training under the budget in the sandbox, and the safe evaluation on
the test split. "Bare" runs each student's `train` on the same data and budget through the
same driver (cnn_driver.train), in plain processes, `--jobs` at a time: no sandbox, no
pytest, no public checks, no evaluation. The ratio of the two throughputs is the grader's
cost. Prints seconds per submission (wall clock of the whole class / students) and
submissions per hour for both, and the ratio.

Usage: .venv/bin/python benchmarks/cnn_class.py [--device cpu|gpu|auto] [--jobs N] [--budget S]
       [--train-limit N] [--test-limit N]
The defaults suit a 2-core CPU (a subset of the data, a 30 s budget, 2 jobs: about 6 minutes).
On a GPU: --device gpu --jobs 8 --train-limit 0 --test-limit 0 (the whole data set).
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NEVER_STOPS = '''
import keras
from keras import layers

OUTPUT_LOGITS = True


def build_model(input_shape=(28, 28, 1), num_classes=10):
    return keras.Sequential([keras.Input(shape=input_shape), layers.Conv2D(16, 3, activation="relu"),
                             layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(num_classes)])


def train(model, x_train, y_train, x_val, y_val, callbacks=None):
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    while True:  # ignores its budget: the grader stops it and grades its last checkpoint
        model.fit(x_train, y_train, epochs=1, batch_size=128, verbose=0)
'''


def variants() -> dict[str, str]:
    """student -> cnn.py source."""
    from autograder.grading.notebook_code import notebook_to_module

    answer = (ROOT / "solutions" / "cnn.py").read_text()
    reference = (ROOT / "dlref" / "cnn.py").read_text()
    lab = notebook_to_module(ROOT / "solutions" / "cnn_fashion_mnist.ipynb")

    def swap(text: str, old: str, new: str) -> str:
        changed = re.sub(old, new, text, count=1)
        if changed == text:
            raise ValueError(f"the variation {old!r} no longer applies to the model answer")
        return changed

    return {
        "s1-model-answer": answer,
        "s2-reference": reference,
        "s3-wide": swap(answer, r"layers\.Conv2D\(32", "layers.Conv2D(48"),
        "s4-batch-64": swap(answer, r"BATCH_SIZE = \d+", "BATCH_SIZE = 64"),
        "s5-short": swap(answer, r"EPOCHS = \d+", "EPOCHS = 4"),
        "s6-reference-short": swap(reference, r"EPOCHS = \d+", "EPOCHS = 4"),
        "s7-lab-notebook": lab,
        "s8-never-stops": NEVER_STOPS,
    }


def grade_class(subs: Path, out: Path, course: Path, args) -> float:
    """Wall seconds of `dlgrade grade SUBS --only cnn` (the CNN's whole grading path)."""
    cmd = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--only", "cnn",
           "--course", str(course), "--jobs", str(args.jobs), "--no-report", "--device", args.device]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode not in (0, 1):
        sys.exit(f"dlgrade grade failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds


BARE = """
import importlib.util, json, sys, tempfile
sys.path.insert(0, sys.argv[1])
import numpy as np
from autograder.inside import cnn_driver
spec = importlib.util.spec_from_file_location("cnn", sys.argv[2])
cnn = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cnn)
d = np.load(sys.argv[3])
with tempfile.TemporaryDirectory() as out:
    r = cnn_driver.train(cnn, d["xt"], d["yt"], d["xv"], d["yv"], out_dir=out, budget_s=float(sys.argv[4]),
                         grace_s=float(sys.argv[5]))
print(json.dumps({"epochs": r.get("epochs"), "finished": r.get("finished")}))
"""


def bare_one(source: Path, data: Path, budget: float, env: dict) -> dict:
    from autograder.sandbox.cnn import grace_seconds

    # A train that never stops keeps running after the driver returns: the process is ended at
    # the same wall-clock limit the grader's worker has.
    limit = budget + grace_seconds(budget) + 60.0
    try:
        done = subprocess.run([sys.executable, "-c", BARE, str(ROOT), str(source), str(data), str(budget),
                               str(grace_seconds(budget))], capture_output=True, text=True, env=env, timeout=limit)
        return json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {"error": done.stderr[-300:]}
    except subprocess.TimeoutExpired:
        return {"killed": True}


def bare_class(subs: Path, data: Path, budget: float, args, env: dict) -> float:
    started = time.monotonic()
    with cf.ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(lambda s: bare_one(s / "cnn.py", data, budget, env), sorted(subs.iterdir())))
    return time.monotonic() - started


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("auto", "cpu", "gpu"), default="cpu")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--budget", type=float, default=30.0, help="training budget per student, seconds")
    parser.add_argument("--train-limit", type=int, default=6000, help="training images (0: all 60,000)")
    parser.add_argument("--test-limit", type=int, default=2000, help="test images (0: all 10,000)")
    args = parser.parse_args(argv)

    import numpy as np

    from autograder.cnn import grading as cnn_grading
    from autograder.sandbox import cnn as cnn_sandbox
    from autograder.course import demo
    from autograder.course.config import load

    work = Path(tempfile.mkdtemp(prefix="dlgrade-cnn-class-"))
    try:
        subs = work / "subs"
        for student, text in variants().items():
            (subs / student).mkdir(parents=True)
            (subs / student / "cnn.py").write_text(text)
        budget_key = "budget_gpu_s" if args.device == "gpu" else "budget_cpu_s"
        course = demo.course_with_cnn(work / "course.toml", {"train_limit": args.train_limit,
                                                             "test_limit": args.test_limit, budget_key: args.budget},
                                      "the benchmark's CNN settings")
        plan = cnn_sandbox.plan_device(args.device)
        splits = cnn_grading.load_splits(load(course).cnn)
        data = work / "data.npz"
        np.savez(data, xt=splits.x_train, yt=splits.y_train, xv=splits.x_val, yv=splits.y_val)
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **cnn_sandbox.GPU_SHARING_ENV}
        if plan.backend:
            env["KERAS_BACKEND"] = plan.backend
        if not plan.gpu:
            env["CUDA_VISIBLE_DEVICES"] = ""
        n = len(list(subs.iterdir()))
        print(f"{n} CNN submissions, {len(splits.x_train)} training images, {len(splits.x_test)} test images, "
              f"budget {args.budget:g} s, {args.jobs} jobs, device {plan.description} ({plan.backend})")
        bare = bare_class(subs, data, args.budget, args, env)
        graded = grade_class(subs, work / "out", course, args)
        scores = {p.stem: json.loads(p.read_text()) for p in (work / "out" / "results").glob("*.json")}
        print(f"{'run':<26}{'wall s':>9}{'s / submission':>16}{'submissions / hour':>20}")
        for name, seconds in (("bare trainings (no grader)", bare), ("dlgrade grade --only cnn", graded)):
            print(f"{name:<26}{seconds:9.1f}{seconds / n:16.1f}{3600 * n / seconds:20.0f}")
        print(f"grader throughput / bare throughput: {bare / graded:.2f}")
        print("CNN scores: " + ", ".join(f"{s} {r.get('score', 0):.2f}" + (" (could not grade)" if
              r.get("extra_data", {}).get("could_not_grade") else "") for s, r in sorted(scores.items())))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
