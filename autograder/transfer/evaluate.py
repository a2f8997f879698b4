"""The transfer task's trusted evaluation: a separate process (no student code) loads the checked model
and the shipped base safely, compares the base's layers, predicts, and trains the from-scratch rival.

The from-scratch model is `keras.models.clone_model` of the student's saved model (the same
architecture, every weight freshly initialised, every layer trainable), trained here by the
grader's fixed recipe (Adam 1e-3, `scratch_epochs`, the best validation epoch's weights) on the
same few images: student code cannot weaken it, and it is seeded, so it is the same rival for
every submission of one architecture on one machine.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.cnn.evaluate import (EVALUATOR_MEMORY, ROOT, _h5_parameter_count, evaluator_env, over_cap_message,
                                     serve)
from autograder.cnn.safety import ModelRefused, check_archive
from autograder.suites.feedback import GraderError

NUM_CLASSES = 5
SEED = 0
ARRAYS = ("x_test", "x_small", "y_small", "x_val", "y_val")
_EVAL_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
              "from autograder.transfer.evaluate import evaluator_main; evaluator_main(sys.argv[2])")


@dataclass
class Evaluation:
    """The trusted evaluation of one model file (`refused`: why it was not scored, at `stage`)."""

    refused: str = ""
    stage: str = ""
    params: int | None = None
    config: dict = field(default_factory=dict)  # the checked config.json (compile_config included)
    outputs: dict = field(default_factory=dict)  # "test", "small", "val", "scratch": (N, k) float64
    base_layers: list = field(default_factory=list)  # per base layer with weights: found, trainable, equal, drift
    base_classifier_kept: bool = False
    scratch_error: str = ""
    seconds: float = 0.0


def evaluate_file(model_file: Path, base_file: Path, arrays: dict, max_params: int, scratch_epochs: int, *,
                  timeout_s: float = 600.0) -> Evaluation:
    """check_archive, then the evaluating process; GraderError when the grader itself fails."""
    try:
        config = check_archive(model_file, max_params)
    except ModelRefused as e:
        return Evaluation(refused=str(e), stage=e.stage)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dlgrade-transfer-eval-") as tmp:
        for name in ARRAYS:
            np.save(Path(tmp) / f"{name}.npy", np.asarray(arrays[name]), allow_pickle=False)
        request = Path(tmp) / "request.json"
        result = Path(tmp) / "result.json"
        request.write_text(json.dumps({"model": str(model_file), "base": str(base_file), "dir": tmp,
                                       "result": str(result), "max_params": int(max_params),
                                       "scratch_epochs": int(scratch_epochs), "memory": EVALUATOR_MEMORY}))
        try:
            proc = subprocess.run([sys.executable, "-I", "-c", _EVAL_BOOT, str(ROOT), str(request)], cwd=tmp,
                                  env=evaluator_env(), capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise GraderError(f"the transfer evaluator took more than {timeout_s:.0f} s") from None
        if not result.exists():
            tail = (proc.stderr or proc.stdout).strip()[-1500:]
            raise GraderError(f"the transfer evaluator failed (exit {proc.returncode}): {tail}")
        out = json.loads(result.read_text())
        if out.get("grader_error"):
            raise GraderError(f"the transfer evaluator failed: {out['grader_error']}")
        ev = Evaluation(refused=out.get("refused", ""), stage=out.get("stage", ""), params=out.get("params"),
                        config=config, base_layers=out.get("base_layers", []),
                        base_classifier_kept=bool(out.get("base_classifier_kept")),
                        scratch_error=out.get("scratch_error", ""), seconds=time.monotonic() - started)
        for name in out.get("outputs", []):
            ev.outputs[name] = np.load(Path(tmp) / f"out_{name}.npy", allow_pickle=False).astype(np.float64)
        return ev


def evaluator_main(request_path: str) -> None:
    """Entry point of the evaluating process (trusted code only; the model file is data)."""
    serve(request_path, _evaluate)


def walk(model, trainable: bool = True, depth: int = 0):
    """(layer, effectively trainable) for every layer, nested models' layers included."""
    for layer in getattr(model, "layers", []):
        on = trainable and bool(layer.trainable)
        yield layer, on
        if depth < 8 and getattr(layer, "layers", None):
            yield from walk(layer, on, depth + 1)


def compare_with_base(model, base) -> list[dict]:
    """For each base layer with weights: is a layer of that name and those weight shapes in `model`, is it
    (effectively) trainable, are its weights bit-for-bit the base's, and its relative change; `classifier`
    marks the base's last layer (its 5-way head, which the student's model replaces)."""
    found = {layer.name: (layer, on) for layer, on in walk(model)}
    rows = []
    for layer in base.layers:
        w0 = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
        if not w0:
            continue
        row = {"name": layer.name, "found": False, "trainable": None, "equal": None, "drift": None,
               "classifier": layer is base.layers[-1]}
        if layer.name in found:
            twin, on = found[layer.name]
            w = [np.asarray(v, dtype=np.float64) for v in twin.get_weights()]
            if [a.shape for a in w] == [a.shape for a in w0]:
                norm = np.sqrt(sum(float(np.sum(a ** 2)) for a in w0))
                diff = np.sqrt(sum(float(np.sum((a - b) ** 2)) for a, b in zip(w, w0)))
                row.update(found=True, trainable=on, equal=all(np.array_equal(a, b) for a, b in zip(w, w0)),
                           drift=diff / norm if norm > 0 else diff)
        rows.append(row)
    return rows


def _predict(keras, model, x: np.ndarray) -> np.ndarray:
    out = []
    for start in range(0, len(x), 500):
        batch = (x[start:start + 500].astype(np.float32) / np.float32(255.0))[..., np.newaxis]
        out.append(np.asarray(keras.ops.convert_to_numpy(model(batch, training=False)), dtype=np.float64))
    return np.concatenate(out) if out else np.zeros((0, NUM_CLASSES))


def probabilities(y: np.ndarray) -> bool:
    """Whether every row is non-negative and sums to 1 (a softmax output), within float32 rounding."""
    return bool(y.size) and bool(np.all(y >= 0)) and bool(np.allclose(y.sum(axis=1), 1.0, atol=1e-3))


def _scratch(keras, model, arrays: dict, epochs: int, from_logits: bool) -> np.ndarray:
    """The from-scratch rival's outputs on the test images (see the module docstring)."""
    keras.utils.set_random_seed(SEED)
    clone = keras.models.clone_model(model)
    clone.trainable = True
    for layer, _ in walk(clone):
        layer.trainable = True
    prep = lambda x: (x.astype(np.float32) / np.float32(255.0))[..., np.newaxis]  # noqa: E731
    clone.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits), metrics=["accuracy"])
    best = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=epochs,
                                         restore_best_weights=True)
    clone.fit(prep(arrays["x_small"]), arrays["y_small"].astype(np.int32), epochs=epochs, batch_size=32,
              validation_data=(prep(arrays["x_val"]), arrays["y_val"].astype(np.int32)), callbacks=[best], verbose=0)
    return _predict(keras, clone, arrays["x_test"])


def _evaluate(req: dict) -> dict:
    max_params = int(req["max_params"])
    counted = _h5_parameter_count(req["model"])
    if counted > max_params:
        raise ModelRefused(over_cap_message(counted, max_params), "params", counted)
    import keras

    try:
        model = keras.saving.load_model(req["model"], compile=False, safe_mode=True)
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever Keras says about a file it cannot load
        raise ModelRefused(f"your saved model could not be loaded safely: {type(e).__name__}: {str(e)[:600]}",
                           "load") from None
    if not isinstance(model, keras.Model):
        raise ModelRefused(f"the saved file holds a {type(model).__name__}, not a keras.Model", "load")
    try:
        base = keras.saving.load_model(req["base"], compile=False, safe_mode=True)
    except Exception as e:  # noqa: BLE001 - the grader's own file
        return {"grader_error": f"the base model {req['base']} cannot be loaded: {type(e).__name__}: {e}"}
    params = int(model.count_params())
    if params > max_params:
        return {"refused": over_cap_message(params, max_params), "stage": "params", "params": params}
    arrays = {name: np.load(Path(req["dir"]) / f"{name}.npy", allow_pickle=False) for name in ARRAYS}
    out = {"params": params, "base_layers": compare_with_base(model, base),
           "base_classifier_kept": any(layer.name == base.layers[-1].name for layer, _ in walk(model))}
    outputs = {}
    try:
        for name in ("test", "small", "val"):
            outputs[name] = _predict(keras, model, arrays[f"x_{name}"])
    except MemoryError:
        raise
    except Exception as e:  # noqa: BLE001 - the student's model fails on (N, 28, 28, 1) images
        return {**out, "refused": f"your model failed on the images: {type(e).__name__}: {str(e)[:500]}",
                "stage": "evaluate"}
    if outputs["test"].ndim == 2 and outputs["test"].shape[1] == NUM_CLASSES:
        try:
            logits = not probabilities(outputs["test"])
            outputs["scratch"] = _scratch(keras, model, arrays, int(req["scratch_epochs"]), logits)
        except MemoryError:
            raise
        except Exception as e:  # noqa: BLE001 - an architecture that cannot be cloned or trained afresh
            out["scratch_error"] = f"{type(e).__name__}: {str(e)[:500]}"
    for name, y in outputs.items():
        np.save(Path(req["dir"]) / f"out_{name}.npy", y.reshape(len(y), -1), allow_pickle=False)
    out["outputs"] = sorted(outputs)
    return out
