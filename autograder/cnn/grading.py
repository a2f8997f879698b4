"""Trusted side of the CNN task: data, the sandboxed training run, the safe load, the test-set score.

1. The grader loads Fashion-MNIST with dlref.data (train_limit/test_limit from course.toml)
   and splits off a seeded validation set; only train and validation cross into the sandbox,
   as plain arrays, and the dataset's directories are masked there.
2. ``cnn_driver.train`` builds and trains the student's model in the sandbox under the time
   budget and saves it as .keras in a directory of this process, bound at /out.
3. Once the sandbox is dead, the model file is copied out (a regular file, not a link, size
   capped), its archive and config are checked here without Keras (a Lambda layer or a class
   or function of the student's is refused with a clear message), and a separate trusted
   process (no student code: `keras.saving.load_model(safe_mode=True)`, a memory limit, CPU
   only) counts its parameters, lists its layers and predicts the test split, which never
   enters the sandbox. Accuracy, per-class accuracy and the confusion matrix come from those
   outputs here.
"""
from __future__ import annotations

import io
import json
import math
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.sandbox import cnn as cnn_sandbox
from autograder.course import config as course_config
from autograder.suites.feedback import GraderError

ROOT = Path(__file__).resolve().parents[2]
VAL_FRACTION, SPLIT_SEED = 0.1, 0
NUM_CLASSES = 10
MODEL_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}
CONFIG_MAX_BYTES = 8 * 2**20
EVALUATOR_MEMORY = 8 * 2**30  # address space of the evaluating process (TensorFlow needs ~3 GiB)
EVAL_BATCH = 500
# Modules a .keras config may name: Keras' own public layers, initializers, regularizers,
# constraints, dtype policies and models. Anything else is the student's code.
ALLOWED_MODULES = {"keras", "keras.layers", "keras.initializers", "keras.regularizers",
                   "keras.constraints", "keras.src.models.functional", "keras.models"}
# Built-in layers that run arbitrary code or read files when loaded.
REFUSED_LAYERS = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer",
                  "TextVectorization", "StringLookup", "IntegerLookup"}
CONV_LAYERS = {"Conv2D"}
POOLING_LAYERS = {"MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling2D"}


class ModelRefused(Exception):
    """The saved model is not graded; the message says why, for the student.

    `stage`: "file" (missing, not a regular file, too big), "unsafe" (not a plain .keras
    archive, or a Lambda layer or code of the student's), "load" (Keras could not load it),
    "params" (over the cap), "evaluate" (failed or too slow on the test images).
    """

    def __init__(self, message: str, stage: str = "unsafe", params: int | None = None):
        super().__init__(message)
        self.stage, self.params = stage, params


# --- data --------------------------------------------------------------------------------

@dataclass
class Splits:
    """uint8 images (N, 28, 28) and int64 labels (N,) of each split."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_splits(cnn: course_config.Cnn, directory=None) -> Splits:
    """The first train_limit training images split 90/10 (seeded) and the first test_limit test images."""
    from dlref import data

    try:
        x, y = data.load_fashion_mnist("train", directory, limit=cnn.train_limit or None,
                                       downloader=None)
        x_test, y_test = data.load_fashion_mnist("test", directory, limit=cnn.test_limit or None,
                                                 downloader=None)
    except (FileNotFoundError, ValueError) as e:
        raise GraderError(f"the grader could not load Fashion-MNIST: {e}") from None
    x_train, y_train, x_val, y_val = data.train_val_split(x, y, VAL_FRACTION, SPLIT_SEED)
    as_labels = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
    return Splits(x_train, as_labels(y_train), x_val, as_labels(y_val), x_test, as_labels(y_test))


def dataset_paths_to_hide() -> tuple[str, ...]:
    """Where Fashion-MNIST may lie inside what the sandbox mounts (/usr, the Python trees)."""
    from dlref import data

    from autograder.sandbox.client import python_dirs

    places = [os.path.expanduser(d) for d in data.DEFAULT_DIRS]
    if os.environ.get(data.ENV_VAR):
        places.append(os.path.expanduser(os.environ[data.ENV_VAR]))
    mounted = ["/usr", *python_dirs()]
    out = []
    for p in places:
        real = os.path.realpath(p)
        if os.path.exists(real) and any(real == m or real.startswith(m.rstrip("/") + "/") for m in mounted):
            out.append(real)
    return tuple(sorted(set(out)))


# --- the sandboxed training run -------------------------------------------------------------

@dataclass
class TrainingRun:
    """What came out of the sandbox: the driver's report (untrusted) and the model file copied out."""

    budget_s: float
    plan: cnn_sandbox.DevicePlan
    report: dict = field(default_factory=dict)  # the driver's return value (student-controlled)
    failure: str = ""  # the student's code failed (raised, crashed, timed out): the message
    failure_kind: str = ""
    model_file: Path | None = None  # a trusted copy of the file to grade
    source: str = ""  # "model.keras" (train returned) or "checkpoint.keras" (the last epoch's)
    missing: str = ""  # why there is no model file
    wall_s: float = 0.0


def train_in_sandbox(submission, cnn: course_config.Cnn, splits: Splits, workdir: Path, *,
                     budget_s: float, plan: cnn_sandbox.DevicePlan, sandbox: str = "auto",
                     uid: int | None = None) -> TrainingRun:
    """Run the student's build_model + train in the sandbox; copy the resulting model file into `workdir`."""
    run = TrainingRun(budget_s=budget_s, plan=plan)
    out_dir = Path(tempfile.mkdtemp(prefix="out-", dir=workdir))
    started = time.monotonic()
    with cnn_sandbox.open_worker(submission, cnn, plan, budget_s, sandbox=sandbox, output_dir=out_dir,
                                 hide=dataset_paths_to_hide() if sandbox != "none" else (),
                                 uid=uid) as worker:
        result = worker.call_driver(
            cnn_sandbox.DRIVER, "train", "cnn", splits.x_train, splits.y_train, splits.x_val, splits.y_val,
            out_dir=worker.output_path, budget_s=budget_s, grace_s=cnn_sandbox.grace_seconds(budget_s))
    # The sandbox is gone (every process of it killed): nothing writes to out_dir any more.
    run.wall_s = time.monotonic() - started
    if result.ok and isinstance(result.value, dict):
        run.report = result.value
    elif result.ok:
        run.failure, run.failure_kind = "the grader's training driver returned nothing usable", "protocol"
    elif result.kind == "grader":  # the training sandbox did not start: no student code ran
        raise GraderError(f"the CNN's training sandbox failed: {result.message}")
    else:
        run.failure, run.failure_kind = result.message, result.kind or "exception"
        printed = cnn_sandbox.without_backend_noise(result.stdout).strip()
        if printed:
            run.failure += f"\nYour code printed:\n{printed[-3000:]}"
    cap = cnn_sandbox.model_file_cap(cnn.max_params)
    for name in ("model.keras", "checkpoint.keras"):
        try:
            data = read_regular_file(out_dir / name, cap)
        except FileNotFoundError:
            continue
        except ModelRefused as e:
            run.missing = str(e)
            break
        run.model_file = workdir / name
        run.model_file.write_bytes(data)
        run.source = name
        break
    else:
        problem = run.report.get("problem") or run.report.get("save_error")
        run.missing = (f"no trained model was saved ({problem})" if problem
                       else "no trained model was saved (no epoch ended before training stopped)")
    shutil.rmtree(out_dir, ignore_errors=True)
    return run


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path` if it is a regular file (not a link, fifo, device) of at most max_bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ModelRefused(f"{path.name} in the output directory is not a regular file ({e.strerror})",
                           "file") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ModelRefused(f"{path.name} in the output directory is not a regular file", "file")
        if info.st_size > max_bytes:
            raise ModelRefused(f"the saved model is {info.st_size:,} bytes, over the {max_bytes:,}-byte cap",
                               "file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ModelRefused(f"the saved model is over the {max_bytes:,}-byte cap", "file")
    return data


# --- checks without Keras ----------------------------------------------------------------------

def check_archive(path: Path, max_params: int) -> dict:
    """The parsed config.json of a .keras file after structural checks; ModelRefused otherwise."""
    cap = cnn_sandbox.model_file_cap(max_params)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            extra = sorted(names - MODEL_MEMBERS)
            if extra or len(infos) != len(names) or "config.json" not in names or "model.weights.h5" not in names:
                raise ModelRefused("the saved model is not a plain .keras file (expected config.json, "
                                   f"metadata.json and model.weights.h5; found {', '.join(sorted(names))[:300]})")
            if sum(i.file_size for i in infos) > cap:
                raise ModelRefused(f"the saved model unpacks to more than {cap:,} bytes")
            info = zf.getinfo("config.json")
            if info.file_size > CONFIG_MAX_BYTES:
                raise ModelRefused(f"the model's config.json is over {CONFIG_MAX_BYTES:,} bytes")
            text = zf.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
        raise ModelRefused(f"the saved model is not a valid .keras file ({type(e).__name__}: {e})") from None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ModelRefused(f"the model's config.json is not valid JSON ({type(e).__name__})") from None
    problems = unsafe_objects(config)
    if problems:
        raise ModelRefused(f"your model uses {problems[0]}, which the grader cannot load safely; "
                           "use built-in Keras layers (keras.layers.Conv2D, MaxPooling2D, Dense, ...)"
                           + (f" (also: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""))
    return config


def unsafe_objects(config) -> list[str]:
    """Lambda layers, student classes and functions named in a .keras config (compile_config skipped:
    the model is loaded without compiling)."""
    found: list[str] = []

    def walk(node, depth):
        if depth > 200:
            found.append("a config nested too deeply")
            return
        if isinstance(node, list):
            for v in node:
                walk(v, depth + 1)
            return
        if not isinstance(node, dict):
            return
        name, module = node.get("class_name"), node.get("module")
        if isinstance(name, str):
            what = _refusal(name, module, node)
            if what and what not in found:
                found.append(what)
        for key, v in node.items():
            if key != "compile_config":
                walk(v, depth + 1)

    try:
        walk(config, 0)
    except RecursionError:
        found.append("a config nested too deeply")
    return found


def config_layers(config) -> list[str]:
    """Class names of the built-in layers a (checked) .keras config declares, in order."""
    names: list[str] = []

    def walk(node, depth):
        if depth > 200:
            return
        if isinstance(node, list):
            for v in node:
                walk(v, depth + 1)
        elif isinstance(node, dict):
            if node.get("module") == "keras.layers" and isinstance(node.get("class_name"), str):
                names.append(node["class_name"])
            for key, v in node.items():
                if key != "compile_config":
                    walk(v, depth + 1)

    walk(config, 0)
    return names


def _refusal(name: str, module, node: dict) -> str | None:
    if name in ("Lambda", "__lambda__"):
        return "a Lambda layer"
    if name == "__keras_tensor__" and module is None:
        return None
    if name == "function":
        fn = node.get("config")
        return f"a function of your own ({str(fn)[:60]!r})" if isinstance(fn, str) else "a function of your own"
    if module not in ALLOWED_MODULES:
        shown = node.get("registered_name") or name
        where = f" from module {str(module)[:60]}" if module else ""
        return f"a custom class {str(shown)[:80]}{where}"
    if name in REFUSED_LAYERS:
        return f"a {name} layer"
    return None


# --- the evaluating process ------------------------------------------------------------------

_EVAL_BOOT = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
              "from autograder.cnn.grading import evaluator_main; evaluator_main(sys.argv[1])")


@dataclass
class Evaluation:
    """The trusted evaluation of one model file (`refused`: why it was not scored, at `stage`)."""

    refused: str = ""
    stage: str = ""  # ModelRefused.stage when refused
    params: int | None = None
    layers: list = field(default_factory=list)
    outputs: np.ndarray | None = None  # (N, 10) float64 as the model returned them
    seconds: float = 0.0


def evaluate_file(model_file: Path, x_test: np.ndarray, max_params: int, *, timeout_s: float = 300.0,
                  eval_seconds: float = 240.0, backend: str | None = None) -> Evaluation:
    """check_archive, then the evaluating process: load safely, count, list layers, predict x_test."""
    try:
        config = check_archive(model_file, max_params)
    except ModelRefused as e:
        return Evaluation(refused=str(e), stage=e.stage)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dlgrade-eval-") as tmp:
        data, result = Path(tmp) / "x_test.npy", Path(tmp) / "result.json"
        np.save(data, np.asarray(x_test, dtype=np.uint8), allow_pickle=False)
        request = Path(tmp) / "request.json"
        request.write_text(json.dumps({
            "model": str(model_file), "data": str(data), "result": str(result),
            "outputs": str(Path(tmp) / "outputs.npy"), "max_params": int(max_params),
            "eval_seconds": float(eval_seconds), "memory": EVALUATOR_MEMORY}))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DLGRADE_", "KERAS_"))}
        env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")  # CPU: a GPU needs more address space
        chosen = backend or cnn_sandbox.cpu_backend()
        if chosen:
            env["KERAS_BACKEND"] = chosen
        try:
            proc = subprocess.run([sys.executable, "-I", "-c", _EVAL_BOOT, str(ROOT), str(request)],
                                  cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return Evaluation(refused=f"evaluating your model on the test set took more than {timeout_s:.0f} s "
                                      "(is it very large?)", stage="evaluate", seconds=time.monotonic() - started)
        if not result.exists():
            if proc.returncode < 0:
                # The model was within the parameter cap (counted before loading), so a model of its
                # size fits the evaluator's memory: a killed evaluator is the grading machine's problem
                # (out of memory, killed by the operator), to grade again, never the student's score.
                raise GraderError(f"the CNN evaluator was killed by signal {-proc.returncode} "
                                  "(out of memory on the grading machine?)")
            tail = (proc.stderr or proc.stdout).strip()[-1500:]
            raise GraderError(f"the CNN evaluator failed (exit {proc.returncode}): {tail}")
        out = json.loads(result.read_text())
        ev = Evaluation(refused=out.get("refused", ""), stage=out.get("stage", ""), params=out.get("params"),
                        layers=out.get("layers") or config_layers(config), seconds=time.monotonic() - started)
        if out.get("grader_error"):
            raise GraderError(f"the CNN evaluator failed: {out['grader_error']}")
        if not ev.refused:
            ev.outputs = np.load(Path(tmp) / "outputs.npy", allow_pickle=False).astype(np.float64)
        return ev


def evaluator_main(request_path: str) -> None:
    """Entry point of the evaluating process (trusted code only; the model file is data)."""
    req = json.loads(Path(request_path).read_text())
    resource.setrlimit(resource.RLIMIT_AS, (req["memory"], req["memory"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        out = _evaluate(req)
    except ModelRefused as e:
        out = {"refused": str(e), "stage": e.stage, "params": e.params}
    except MemoryError:
        out = {"refused": f"your model could not be loaded within {req['memory'] / 2**30:.0f} GiB of memory",
               "stage": "load"}
    Path(req["result"]).write_text(json.dumps(out))


def _evaluate(req: dict) -> dict:
    max_params = int(req["max_params"])
    counted = _h5_parameter_count(req["model"])
    if counted > max_params:  # refused before Keras builds (and allocates) anything
        raise ModelRefused(over_cap_message(counted, max_params), "params", counted)
    import keras

    try:
        model = keras.saving.load_model(req["model"], compile=False, safe_mode=True)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever Keras says about a file it cannot load
        raise ModelRefused(f"your saved model could not be loaded safely: {type(e).__name__}: "
                           f"{str(e)[:600]}", "load") from None
    if not isinstance(model, keras.Model):
        raise ModelRefused(f"the saved file holds a {type(model).__name__}, not a keras.Model", "load")
    params = int(model.count_params())
    layers = _layer_names(model)
    if params > max_params:
        return {"refused": over_cap_message(params, max_params), "stage": "params", "params": params, "layers": layers}
    x = np.load(req["data"], allow_pickle=False)
    deadline = time.monotonic() + float(req["eval_seconds"])
    outputs = []
    for start in range(0, len(x), EVAL_BATCH):
        batch = (x[start:start + EVAL_BATCH].astype(np.float32) / np.float32(255.0))[..., np.newaxis]
        try:
            y = np.asarray(keras.ops.convert_to_numpy(model(batch, training=False)))
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - the student's model fails on (N, 28, 28, 1) images
            return {"refused": f"your model failed on the test images: {type(e).__name__}: {str(e)[:500]}",
                    "stage": "evaluate", "params": params, "layers": layers}
        if y.shape != (len(batch), NUM_CLASSES):
            return {"refused": f"your model's output has shape {tuple(y.shape)} for {len(batch)} images; "
                               f"expected ({len(batch)}, {NUM_CLASSES})", "stage": "evaluate", "params": params,
                    "layers": layers}
        outputs.append(y.astype(np.float64))
        if time.monotonic() > deadline:
            return {"refused": f"evaluating your model on the test set took more than {req['eval_seconds']:.0f} s",
                    "stage": "evaluate", "params": params, "layers": layers}
    np.save(req["outputs"], np.concatenate(outputs) if outputs else np.zeros((0, NUM_CLASSES)),
            allow_pickle=False)
    return {"params": params, "layers": layers}


def over_cap_message(count: int, cap: int) -> str:
    return (f"your model has {count:,} parameters, over the course's cap of {cap:,}; make it smaller "
            "(fewer filters or Dense units, or more pooling before Flatten)")


def _h5_parameter_count(model_path: str) -> int:
    """Weights stored for the model's layers (the optimizer's left out), read before building anything."""
    import h5py

    with zipfile.ZipFile(model_path) as zf:
        raw = zf.read("model.weights.h5")  # its declared size was capped by check_archive
    total = 0

    def visit(name, obj):
        nonlocal total
        if isinstance(obj, h5py.Dataset) and name.split("/", 1)[0] in ("layers", "vars"):
            total += int(math.prod(obj.shape)) if obj.shape else 1

    try:
        with h5py.File(io.BytesIO(raw), "r") as f:
            f.visititems(visit)
    except Exception as e:  # noqa: BLE001
        raise ModelRefused(f"the saved model's weights file cannot be read ({type(e).__name__})", "load") from None
    return total


def _layer_names(model, depth: int = 0) -> list[str]:
    """Class names of every layer, nested models' layers included."""
    out = []
    for layer in getattr(model, "layers", []):
        out.append(type(layer).__name__)
        if depth < 8 and getattr(layer, "layers", None):
            out += _layer_names(layer, depth + 1)
    return out


# --- scores and report data ---------------------------------------------------------------

def metrics(outputs: np.ndarray, labels: np.ndarray, output_logits: bool | None) -> dict:
    """Accuracy, per-class accuracy, confusion matrix (rows: true class, columns: predicted) and
    mean cross-entropy; rows with a non-finite output count as wrong."""
    from dlref.data import CLASS_NAMES

    outputs = np.asarray(outputs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    finite = np.isfinite(outputs).all(axis=1)
    if output_logits is False:
        probs = outputs
    else:  # logits (also when OUTPUT_LOGITS is missing: argmax does not change)
        shifted = outputs - np.where(finite, outputs.max(axis=1, initial=-np.inf), 0.0)[:, None]
        e = np.exp(np.where(finite[:, None], shifted, 0.0))
        probs = e / e.sum(axis=1, keepdims=True)
    pred = np.where(finite, np.argmax(np.where(finite[:, None], probs, 0.0), axis=1), -1)
    correct = pred == labels
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    valid = pred >= 0
    np.add.at(confusion, (labels[valid], pred[valid]), 1)
    per_class = {}
    for k, name in enumerate(CLASS_NAMES):
        mask = labels == k
        per_class[name] = float(correct[mask].mean()) if mask.any() else None
    picked = probs[np.arange(len(labels)), labels] if len(labels) else np.zeros(0)
    with np.errstate(invalid="ignore"):
        loss = float(np.mean(-np.log(np.clip(picked, 1e-7, 1.0)))) if finite.all() and len(labels) else None
    return {"accuracy": float(correct.mean()) if len(labels) else 0.0, "per_class_accuracy": per_class,
            "confusion_matrix": confusion.tolist(), "class_names": list(CLASS_NAMES),
            "test_loss": loss, "non_finite_outputs": int((~finite).sum()), "test_images": int(len(labels))}


def accuracy_steps(thresholds: list[float], per_interval: int = 2) -> list[float]:
    """Accuracies at which one more equal share of the accuracy points is earned.

    course.toml's thresholds give 0 at the first and full credit at the last, linear in between;
    pass/fail tests make that a staircase: `per_interval` equal steps inside each interval.
    [0.70, 0.85, 0.91] -> [0.775, 0.85, 0.88, 0.91].
    """
    steps = []
    for lo, hi in zip(thresholds, thresholds[1:]):
        steps += [round(lo + (hi - lo) * (i + 1) / per_interval, 4) for i in range(per_interval)]
    return steps


@dataclass
class Graded:
    """Everything the hidden suite's tests judge, with the report data."""

    run: TrainingRun
    evaluation: Evaluation | None
    scores: dict | None  # metrics(), when the model was evaluated
    max_params: int

    @property
    def model_problem(self) -> str:
        """Why there is no usable model ('' if there is one)."""
        if self.run.model_file is None:
            return self.run.failure or self.run.missing or "no trained model was saved"
        if self.evaluation and self.evaluation.refused:
            return self.evaluation.refused
        return ""

    def report(self) -> dict:
        """JSON data for reports (record_property('cnn', ...)).

        What came from the sandbox (device, seconds, epochs, history...) is the student's to
        forge: it is only shown, after being cut down to the expected types and sizes.
        """
        r = self.run.report
        data = {
            "budget_s": self.run.budget_s, "device_requested": "gpu" if self.run.plan.gpu else "cpu",
            "device": _text(r.get("device")) or self.run.plan.description,
            "backend": _text(r.get("backend")) or self.run.plan.backend,
            "seconds": _number(r.get("seconds")), "epochs": _number(r.get("epochs")),
            "finished": r.get("finished") is True, "stopped_by_budget": r.get("stopped_by_budget") is True,
            "history": _history(r.get("history")), "returned": _text(r.get("returned")),
            "graded_file": self.run.source or None,
            "training_failure": self.run.failure or None, "problem": self.model_problem or None,
            "params": self.evaluation.params if self.evaluation else None,
            "layers": self.evaluation.layers if self.evaluation else [],
            "max_params": self.max_params, "wall_s": round(self.run.wall_s, 3),
            "evaluation_s": round(self.evaluation.seconds, 3) if self.evaluation else None,
        }
        if self.run.plan.note:
            data["device_note"] = self.run.plan.note
        if self.scores:
            data.update(self.scores)
        return _plain(data)


def _text(value, limit: int = 200) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _number(value) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _history(value) -> dict:
    """{metric: [float or None]} with at most 50 metrics of 10,000 epochs."""
    if not isinstance(value, dict):
        return {}
    return {str(k)[:100]: [_number(v) for v in vs[:10_000]] for k, vs in list(value.items())[:50]
            if isinstance(vs, list)}


def _plain(value, depth: int = 0):
    """JSON-safe copy (non-finite floats become None; student-provided strings are capped)."""
    if depth > 20:
        return None
    if isinstance(value, dict):
        return {str(k)[:100]: _plain(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in list(value)[:10_000]]
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (np.integer, np.floating)):
        return _plain(value.item(), depth)
    return str(value)[:2000]


def grade(submission, course: course_config.Course, *, sandbox: str = "auto", env=None,
          workdir: Path, uid: int | None = None) -> Graded:
    """The whole pipeline for one submission: settings, data, device, training, evaluation."""
    cnn = course.cnn
    plan = cnn_sandbox.plan_device(cnn_sandbox.requested_device(env), sandbox=sandbox, uid=uid)
    budget = plan.budget(cnn, cnn_sandbox.budget_override(env))
    if not os.path.lexists(Path(submission) / "cnn.py"):  # nothing to train: no data loaded, no sandbox
        run = TrainingRun(budget_s=budget, plan=plan, failure="cnn.py was not submitted",
                          failure_kind="not_submitted", missing="cnn.py was not submitted")
        return Graded(run=run, evaluation=None, scores=None, max_params=cnn.max_params)
    splits = load_splits(cnn)
    run = train_in_sandbox(submission, cnn, splits, workdir, budget_s=budget, plan=plan, sandbox=sandbox,
                           uid=uid)
    evaluation = scores = None
    if run.model_file is not None:
        evaluation = evaluate_file(run.model_file, splits.x_test, cnn.max_params,
                                   timeout_s=max(180.0, budget) + 120.0, eval_seconds=max(120.0, budget))
        if not evaluation.refused:
            declared = run.report.get("output_logits")
            logits = declared.get("value") if isinstance(declared, dict) else None
            scores = metrics(evaluation.outputs, splits.y_test, logits if isinstance(logits, bool) else None)
    return Graded(run=run, evaluation=evaluation, scores=scores, max_params=cnn.max_params)
