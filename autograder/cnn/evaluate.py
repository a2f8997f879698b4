"""The CNN's trusted evaluation: a separate process loads the checked model safely (no student code) and predicts the test split."""
from __future__ import annotations

import io
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.sandbox import cnn as cnn_sandbox
from autograder.suites.feedback import GraderError
from autograder.cnn.safety import ModelRefused, check_archive, config_layers

ROOT = Path(__file__).resolve().parents[2]
NUM_CLASSES = 10
EVALUATOR_MEMORY = 8 * 2**30  # address space of the evaluating process (TensorFlow needs ~3 GiB)
EVAL_BATCH = 500


# --- the evaluating process ------------------------------------------------------------------

_EVAL_BOOT = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
              "from autograder.cnn.evaluate import evaluator_main; evaluator_main(sys.argv[1])")


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
        try:
            proc = subprocess.run([sys.executable, "-I", "-c", _EVAL_BOOT, str(ROOT), str(request)],
                                  cwd=tmp, env=evaluator_env(backend), capture_output=True, text=True,
                                  timeout=timeout_s)
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


def evaluator_env(backend: str | None = None) -> dict[str, str]:
    """An evaluating process's environment: none of our Python, dlgrade or Keras settings, TensorFlow quiet,
    the CPU only (a GPU needs more address space than its memory limit), and `backend` or the CPU's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DLGRADE_", "KERAS_"))}
    env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    chosen = backend or cnn_sandbox.cpu_backend()
    if chosen:
        env["KERAS_BACKEND"] = chosen
    return env


def evaluator_main(request_path: str) -> None:
    """Entry point of the evaluating process (trusted code only; the model file is data)."""
    serve(request_path, _evaluate)


def serve(request_path: str, evaluate) -> None:
    """An evaluating process's frame: its memory limit, then `evaluate(request)`, or why the model was refused,
    written as JSON to the request's "result" path (the CNN's and the transfer task's evaluators)."""
    req = json.loads(Path(request_path).read_text())
    resource.setrlimit(resource.RLIMIT_AS, (req["memory"], req["memory"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        out = evaluate(req)
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
