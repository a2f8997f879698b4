"""Sandbox side of the transfer task: the student's build_transfer_model + fine_tune under a time budget.

Standalone on purpose (stdlib + numpy; keras imported inside the functions), like cnn_driver.py:
the sandbox copies this file next to ``worker.py``, which calls its public functions with the
student's ``transfer`` module as first argument. Nothing here is trusted: the grader relies only
on the model file left in the output directory, which it checks, loads safely and scores itself
(the test split and the grader's from-scratch run never enter the sandbox).

The base model arrives as the bytes of its .keras file (a uint8 array) and is loaded with
safe_mode; images arrive as uint8 (N, 28, 28), labels as integers (N,); the student's functions
get float32 (N, 28, 28, 1) in [0, 1] and int64 (N,), as the contract says.
"""
from __future__ import annotations

import math
import os
import tempfile
import threading
import time

import numpy as np

FINAL_NAME, CHECKPOINT_NAME = "model.keras", "checkpoint.keras"
NUM_CLASSES = 5
MAX_HISTORY_KEYS, MAX_HISTORY_LEN = 50, 10_000
REFUSED_LAYERS = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer",
                  "TextVectorization", "StringLookup", "IntegerLookup"}


def _load_base(keras, base_file: np.ndarray):
    """The base model from its .keras bytes, written to a private temporary file and loaded safely."""
    with tempfile.TemporaryDirectory(prefix="base-") as tmp:
        path = os.path.join(tmp, "base.keras")
        with open(path, "wb") as f:
            f.write(np.asarray(base_file, dtype=np.uint8).tobytes())
        return keras.saving.load_model(path, compile=False, safe_mode=True)


def _images(x: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 (N, H, W, 1) in [0, 1]."""
    return (np.asarray(x, dtype=np.float32) / np.float32(255.0))[..., np.newaxis]


def _build(transfer, keras, base):
    """(model, problem): the student's build_transfer_model(base, 5) and, if it is not a keras.Model, why."""
    model = transfer.build_transfer_model(base, NUM_CLASSES)
    if not isinstance(model, keras.Model):
        return None, f"build_transfer_model returned {type(model).__name__}, not a keras.Model"
    return model, None


def walk(model, trainable: bool = True, depth: int = 0):
    """(layer, effectively trainable) for every layer, nested models' layers included."""
    for layer in getattr(model, "layers", []):
        on = trainable and bool(layer.trainable)
        yield layer, on
        if depth < 8 and getattr(layer, "layers", None):
            yield from walk(layer, on, depth + 1)


def custom_parts(model) -> list[str]:
    """Lambda layers, classes and activation functions not from Keras."""
    out = []
    if not type(model).__module__.startswith("keras."):
        out.append(f"a custom model class {type(model).__name__}")
    for layer, _ in walk(model):
        cls = type(layer)
        if cls.__name__ in REFUSED_LAYERS and cls.__module__.startswith("keras."):
            out.append(f"a {cls.__name__} layer")
        elif not cls.__module__.startswith("keras."):
            out.append(f"a custom class {cls.__name__}")
        act = getattr(layer, "activation", None)
        if callable(act) and not str(getattr(act, "__module__", "") or "").startswith("keras"):
            out.append(f"a function of your own ({getattr(act, '__name__', type(act).__name__)!r})")
    return out


def summary(transfer, base_file, batch: int = 4, seed: int = 0) -> dict:
    """What `dlgrade check` looks at: the built model's layers, trainable flags and output on a random batch."""
    import keras

    keras.utils.set_random_seed(seed)
    base = _load_base(keras, base_file)
    base_names = [layer.name for layer in base.layers]
    model, problem = _build(transfer, keras, base)
    out = {"problem": problem, "backend": keras.backend.backend()}
    if model is None:
        return out
    x = np.random.default_rng(seed).random((batch, 28, 28, 1)).astype(np.float32)
    y = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
    layers = [{"name": layer.name, "class": type(layer).__name__, "trainable": on,
               "from_base": layer.name in base_names} for layer, on in walk(model)]
    out.update(layers=layers, custom=custom_parts(model), params=int(model.count_params()),
               output_shape=[int(d) for d in y.shape], finite=bool(np.isfinite(y).all()))
    return out


def _number(value) -> float:
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except Exception:  # noqa: BLE001
        return math.nan


def _history_dict(history) -> dict | None:
    data = getattr(history, "history", None)
    if not isinstance(data, dict):
        return None
    out = {}
    for key, values in list(data.items())[:MAX_HISTORY_KEYS]:
        try:
            out[str(key)[:100]] = [_number(v) for v in list(values)[:MAX_HISTORY_LEN]]
        except TypeError:
            out[str(key)[:100]] = [_number(values)]
    return out


def _save(model, out_dir: str, name: str) -> None:
    """model.save to a temporary name, then rename: a kill mid-save leaves the previous file."""
    tmp = os.path.join(out_dir, f"tmp-{name}")
    model.save(tmp)
    os.replace(tmp, os.path.join(out_dir, name))


def train(transfer, base_file, x_small, y_small, x_val, y_val, *, out_dir: str, budget_s: float,
          grace_s: float = 10.0, seed: int = 0) -> dict:
    """Load the base, build the student's model, run their fine_tune for at most `budget_s`, save the model.

    fine_tune runs in a thread. At the budget the model is saved as it is then (checkpoint.keras) and
    `model.stop_training` is set (every fit it starts stops after its batch) for up to `grace_s`
    seconds; a fine_tune that returns by then is graded on model.keras, else on the checkpoint.
    """
    import keras

    keras.utils.set_random_seed(seed)
    result = {"backend": keras.backend.backend(), "budget_s": float(budget_s), "problem": None, "saved": None}
    base = _load_base(keras, base_file)
    model, problem = _build(transfer, keras, base)
    if model is None:
        result["problem"] = problem
        return result
    xs, xv = _images(x_small), _images(x_val)
    ys, yv = np.asarray(y_small, dtype=np.int64), np.asarray(y_val, dtype=np.int64)
    box: dict = {}

    def run():
        try:
            box["value"] = transfer.fine_tune(model, xs, ys, xv, yv)
        except BaseException as e:  # noqa: BLE001 - re-raised below, in the worker's thread
            box["error"] = e

    start = time.monotonic()
    deadline = start + float(budget_s)
    thread = threading.Thread(target=run, name="student-fine-tune", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    stopped = thread.is_alive()
    if stopped:
        try:
            _save(model, out_dir, CHECKPOINT_NAME)  # the model at the budget
        except Exception as e:  # noqa: BLE001
            result["checkpoint_error"] = f"{type(e).__name__}: {e}"[:500]
    while thread.is_alive() and time.monotonic() < deadline + grace_s:
        model.stop_training = True
        thread.join(0.2)
    finished = not thread.is_alive()
    if finished and "error" in box:
        raise box["error"]
    returned = box.get("value")
    result.update(finished=finished, stopped_by_budget=stopped, seconds=time.monotonic() - start,
                  returned=type(returned).__name__ if finished else None,
                  returned_history=finished and isinstance(returned, keras.callbacks.History),
                  history=_history_dict(returned) or {}, params=int(model.count_params()))
    if finished and not stopped:
        try:
            _save(model, out_dir, FINAL_NAME)
            result["saved"] = FINAL_NAME
        except Exception as e:  # noqa: BLE001 - the grader says the model could not be saved
            result["save_error"] = f"{type(e).__name__}: {e}"[:1000]
    elif os.path.exists(os.path.join(out_dir, CHECKPOINT_NAME)):
        result["saved"] = CHECKPOINT_NAME
    else:
        result["save_error"] = result.get("checkpoint_error") or "no checkpoint"
    return result
