"""`dlgrade demo`: grade the bundled sample class in examples/submissions/ and say where the results are.

The sample class is built from solutions/ and the mistake corpus (tests/autograder/mutants/) by
`dlgrade demo --rebuild-examples`; a test checks the committed copy is up to date.
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import os
import shutil
import tomllib
import zipfile
from pathlib import Path

from autograder.grading import grade
from autograder.course.config import KERAS_EXERCISES, NUMPY_EXERCISES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "submissions"
SOLUTIONS = ROOT / "solutions"
MUTANTS = ROOT / "tests" / "autograder" / "mutants"
LAB_NOTEBOOK = "cnn_fashion_mnist.ipynb"

# student -> (exercise, mutant id) for the single-bug variants; each also submits correct losses.py.
CLASSIC_MISTAKES = {
    "cara-softmax-overflow": ("activations", "softmax-no-shift"),
    "dev-conv-kernel-flipped": ("conv", "kernel-flipped"),
    "eva-adam-no-bias-correction": ("optim", "adam-no-bias-correction"),
    "finn-backprop-db-averaged": ("backprop", "db-averaged"),
    "kai-augment-translate-wraps": ("augment", "translate-roll"),
}

CRASHING = {
    "activations.py": '''\
"""Crashes in every way a numpy beginner can: the grader must report each clearly and go on."""
import ctypes
import sys

import numpy as np


def sigmoid(z):
    sys.exit("giving up")


def sigmoid_grad(z):
    return sigmoid_grad(z)  # RecursionError


def tanh(z):
    return np.tanh(z)


def tanh_grad(z):
    return 1.0 - np.tanh(z) ** 2


def relu(z):
    return ctypes.string_at(0)  # segmentation fault


def relu_grad(z):
    raise ValueError("TODO")


def softmax(z, axis=-1):
    return [1, 2, 3]  # not an array
''',
    "losses.py": "import numpy as np\n\nEPSILON = 1 / 0  # fails while being imported\n",
}

HOSTILE = {
    "activations.py": '''\
"""Hostile: snoops for secrets and the reference answers, then hangs the import forever."""
import os

found = {}
for path in ("/etc/shadow", "/root/.ssh/id_rsa", "/work/main/dlref/activations.py", "../../solutions/activations.py"):
    try:
        with open(path) as f:
            found[path] = f.read()
    except OSError as e:
        found[path] = f"{type(e).__name__}"
print("snooping:", found)
try:
    os.kill(os.getppid(), 9)
except OSError:
    pass
while True:  # the grader must time the import out, once, and go on
    pass
''',
    "losses.py": '''\
"""Hostile: tries to forge results files and to leave a daemon behind; the losses below are right."""
import glob
import json
import os

for path in glob.glob("/tmp/**/results*.json", recursive=True):
    try:
        with open(path, "w") as f:
            json.dump({"tests": [], "score": 100}, f)
    except OSError:
        pass
if os.fork() == 0:
    os.setsid()
    os._exit(0)
''',
}


# The CNN on a demo budget, so that the whole class is graded in about two minutes on 2 cores:
# a tenth of the training images, a short training budget, a fifth of the test images, and
# accuracy thresholds that the model answer reaches on that subset. Written into OUT's course
# file; the project's course.toml (and so real grading) keeps the full settings.
DEMO_CNN = {"train_limit": 6000, "test_limit": 2000, "budget_cpu_s": 45.0, "budget_gpu_s": 20.0,
            "accuracy_thresholds": [0.60, 0.75, 0.80]}
# Transfer learning on a demo budget too: the classes 5-9 among the first 2000 test images (about
# 1000 of the 5000), the grader's from-scratch rival trained for 20 epochs instead of 40 (its best
# validation epoch is kept either way), and a shorter budget (the model answer's fine_tune takes
# about 10 s on 2 cores). The few-shot split, the thresholds and the margin are the course's.
DEMO_TRANSFER = {"test_limit": 2000, "scratch_epochs": 20, "budget_cpu_s": 45.0, "budget_gpu_s": 30.0}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo", help="where to write the results")
    parser.add_argument("--no-cnn", action="store_true",
                        help="leave the Keras exercises out (the CNN and transfer learning train models: about a minute)")
    parser.add_argument("--with-cnn", action="store_true", help=argparse.SUPPRESS)  # the default now
    parser.add_argument("--skip", default="", metavar="EXERCISES",
                        help="comma-separated exercises not to grade (as `dlgrade grade --skip`), e.g. transfer")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="submissions graded at once")
    parser.add_argument("--rebuild-examples", action="store_true",
                        help="rewrite examples/submissions/ from solutions/ and the mistake corpus, then stop")


def mutant(exercise: str, mutant_id: str) -> tuple[str, str]:
    """(text in the solution, its replacement) of one mistake in tests/autograder/mutants/<exercise>.py."""
    spec = importlib.util.spec_from_file_location(f"_dlgrade_mutants_{exercise}", MUTANTS / f"{exercise}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for mid, old, new, _hint in module.MUTANTS:
        if mid == mutant_id:
            return old, new
    raise KeyError(f"no mutant {mutant_id!r} for {exercise}")


def solution(exercise: str) -> str:
    return (SOLUTIONS / f"{exercise}.py").read_text()


def with_mistake(exercise: str, mutant_id: str) -> str:
    old, new = mutant(exercise, mutant_id)
    text = solution(exercise)
    if text.count(old) != 1:
        raise ValueError(f"mutant {exercise}/{mutant_id} no longer applies to solutions/{exercise}.py")
    return text.replace(old, new)


def example_files() -> dict[str, bytes]:
    """The sample class as relative path -> bytes (what examples/submissions/ must hold)."""
    files: dict[str, bytes] = {}

    def put(student: str, name: str, text: str) -> None:
        files[f"{student}/{name}"] = text.encode()

    for e in (*NUMPY_EXERCISES, *KERAS_EXERCISES):
        put("ada-perfect", f"{e}.py", solution(e))
    for e in ("activations", "perceptron", "losses"):
        put("ben-partial", f"{e}.py", solution(e))
    for student, (exercise, mutant_id) in CLASSIC_MISTAKES.items():
        put(student, f"{exercise}.py", with_mistake(exercise, mutant_id))
        put(student, "losses.py", solution("losses"))
    # Eva's tuning.py: k-fold without KFold's remainder rule (costs in kfold_indices' tests only), and a
    # right tune_mlp, graded against her own train_mlp (Adam without bias correction): full marks there.
    put("eva-adam-no-bias-correction", "tuning.py", with_mistake("tuning", "kfold-remainder-dropped"))
    for name, text in CRASHING.items():
        put("gus-crashing", name, text)
    for name, text in HOSTILE.items():
        put("hal-hostile", name, text + ("\n" + solution("losses") if name == "losses.py" else ""))
    files["ivy-notebook.ipynb"] = (SOLUTIONS / LAB_NOTEBOOK).read_bytes()
    files["jo-zipped.zip"] = zipped({
        "jo/activations.py": solution("activations"),
        "jo/losses.py": solution("losses"),
        "jo/perceptron.py": with_mistake("perceptron", "train-wrong-sign"),
        "jo/timestamp.txt": "2026-03-01 22:15:03.000000 UTC\n",
    })
    return files


def zipped(members: dict[str, str]) -> bytes:
    """A zip with fixed dates, so the same members give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 3, 1, 22, 15, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            zf.writestr(info, text)
    return buf.getvalue()


def demo_course(out: Path) -> Path:
    """OUT/demo-course.toml: the project's course.toml with the Keras exercises' demo budgets."""
    return course_with(Path(out) / "demo-course.toml", {"cnn": DEMO_CNN, "transfer": DEMO_TRANSFER},
                       "the CNN's and transfer learning's demo budgets (autograder/course/demo.py)")


def course_with_cnn(path: Path, cnn: dict, why: str) -> Path:
    """Write the project's course.toml with these [cnn] settings to `path`; ConfigError for a bad one."""
    return course_with(path, {"cnn": cnn}, why)


def course_with(path: Path, sections: dict[str, dict], why: str) -> Path:
    """Write the project's course.toml with these settings merged into its sections ({"cnn": {...}}) to `path`;
    ConfigError for a bad one."""
    from autograder.course.config import default_path, dumps, load

    source = default_path()
    data = tomllib.loads(source.read_text()) if source.is_file() else {}
    for section, settings in sections.items():
        data[section] = {**data.get(section, {}), **settings}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {source} with {why}\n" + dumps(data))
    load(path)  # the same checks as any course file
    return path


def rebuild_examples(dest: Path = EXAMPLES) -> None:
    """Rewrite the sample class under `dest` from scratch."""
    if dest.exists():
        shutil.rmtree(dest)
    for rel, data in example_files().items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def skipped_exercises(args: argparse.Namespace) -> list[str]:
    """The exercises the demo leaves out: --skip's, and the Keras ones with --no-cnn."""
    skipped = [e for e in args.skip.split(",") if e] if args.skip else []
    if args.no_cnn:
        skipped += [e for e in KERAS_EXERCISES if e not in skipped]
    return skipped


def grade_argv(args: argparse.Namespace) -> list[str]:
    """`dlgrade grade`'s arguments for the demo; writes OUT/demo-course.toml when a Keras exercise is graded."""
    argv = [str(EXAMPLES), "--out", str(args.out), "--jobs", str(args.jobs)]
    skipped = skipped_exercises(args)
    if skipped:
        argv += ["--skip", ",".join(skipped)]
    if not set(KERAS_EXERCISES) <= set(skipped):
        argv += ["--course", str(demo_course(args.out))]
    return argv


def run(args: argparse.Namespace) -> int:
    if args.rebuild_examples:
        rebuild_examples()
        print(f"Rebuilt the sample class in {EXAMPLES}")
        return 0
    if not EXAMPLES.is_dir():
        print(f"dlgrade demo: {EXAMPLES} is missing (it ships with the source tree)")
        return 2
    print(f"Grading the sample class in {EXAMPLES} ...")
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    argv = grade_argv(args)
    if "--course" in argv:
        course = argv[argv.index("--course") + 1]
        skipped = skipped_exercises(args)
        if "cnn" not in skipped:
            print(f"The CNN is graded on a demo budget ({course}): the first {DEMO_CNN['train_limit']} training "
                  f"images, {DEMO_CNN['budget_cpu_s']:g} s of training on a CPU, {DEMO_CNN['test_limit']} test images, "
                  f"accuracy thresholds {DEMO_CNN['accuracy_thresholds']}. Real grading uses course.toml's [cnn] "
                  "settings (all 60,000 training images, minutes of training).")
        if "transfer" not in skipped:
            print(f"Transfer learning on a demo budget ({course}): {DEMO_TRANSFER['test_limit']} test images, the "
                  f"from-scratch comparison trained for {DEMO_TRANSFER['scratch_epochs']} epochs, "
                  f"{DEMO_TRANSFER['budget_cpu_s']:g} s of fine-tuning on a CPU. Real grading uses course.toml's "
                  "[transfer] settings (all 5000 test images of classes 5-9, 40 epochs from scratch).")
    status = grade.run(parser.parse_args(argv))
    grades = args.out / "grades.csv"
    if grades.exists():
        print(f"\n{grades}:\n")
        print(grades.read_text())
    print(f"Per-student results: {args.out / 'results'}/<student>.json")
    if (args.out / "summary.html").exists():
        print(f"Feedback for each student: {args.out / 'feedback'}/<student>.html (and .md)")
        print(f"Class summary: {args.out / 'summary.html'}")
    return status
