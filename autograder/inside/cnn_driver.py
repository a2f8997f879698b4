"""Sandbox side of the CNN task: builds and trains the student's Keras model under a time budget.

Standalone on purpose (stdlib + numpy; keras imported inside the functions): the sandbox
copies this file next to ``worker.py``, which calls its public functions through the
"driver" request with the student's ``cnn`` module as first argument. Nothing here is
trusted by the grader: student code runs in this process and can rewrite any of it. The
grader relies only on the model file it finds in the output directory, which it loads
safely and evaluates itself, on data this process never sees.

Images arrive as uint8 (N, 28, 28) and labels as integers (N,), plain arrays; the student's
functions get float32 (N, 28, 28, 1) in [0, 1] and int64 (N,), as the contract says.
"""
from __future__ import annotations

import inspect
import math
import os
import threading
import time

import numpy as np

MAX_HISTORY_KEYS = 50
MAX_HISTORY_LEN = 10_000
BACKENDS = ("tensorflow", "jax", "torch")
FINAL_NAME, CHECKPOINT_NAME = "model.keras", "checkpoint.keras"
# Built-in layers the grader refuses to load (cnn_grading.REFUSED_LAYERS): they run code or read files.
REFUSED_LAYERS = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer",
                  "TextVectorization", "StringLookup", "IntegerLookup"}


# --- devices --------------------------------------------------------------------------

def gpu_backends(order=BACKENDS) -> dict:
    """The first backend in `order` that trains on a GPU here: {"backend", "device", "tried"}.

    Seeing the GPU is not enough (a backend can list it and still fail to compile for it, e.g.
    XLA without ptxas): each candidate runs one training step of a convolution, forward and
    backward, on the device. Called before any student code is imported, in a sandbox with the
    GPU device files, like the training worker's.
    """
    tried = {}
    for name in order:
        device = None
        try:
            device = _gpu_seen_by(name)
            if device:
                _train_step_on_gpu(name)
        except Exception as e:  # noqa: BLE001 - a missing or broken backend is one more tried
            where = f"sees {device} but a training step on it failed: " if device else ""
            tried[name] = f"{where}{type(e).__name__}: {e}"[:300]
            continue
        if device:
            return {"backend": name, "device": device, "tried": tried}
        tried[name] = "sees no GPU"
    return {"backend": None, "device": None, "tried": tried}


def _train_step_on_gpu(name: str) -> float:
    """One gradient step of a 3x3 convolution on (8, 28, 28, 1) images on the GPU; its finite loss, else raises."""
    if name == "tensorflow":
        import tensorflow as tf

        with tf.device("/GPU:0"):
            x = tf.ones((8, 28, 28, 1))
            w = tf.Variable(tf.fill((3, 3, 1, 4), 0.1))

            @tf.function(jit_compile=True)  # XLA, as Keras compiles train steps where it can
            def step():
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(tf.nn.conv2d(x, w, 1, "SAME") ** 2)
                w.assign_sub(0.1 * tape.gradient(loss, w))
                return loss

            loss = float(step())
    elif name == "jax":
        import jax
        import jax.numpy as jnp

        gpu = [d for d in jax.devices() if d.platform == "gpu"][0]
        x = jax.device_put(jnp.ones((8, 28, 28, 1), jnp.float32), gpu)
        w = jax.device_put(jnp.full((3, 3, 1, 4), 0.1, jnp.float32), gpu)

        def loss_of(w):
            y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
            return jnp.mean(y ** 2)

        value, grad = jax.jit(jax.value_and_grad(loss_of))(w)
        loss = float(value) + 0.0 * float(jnp.sum(w - 0.1 * grad))
    elif name == "torch":
        import torch

        x = torch.ones((8, 1, 28, 28), device="cuda")
        w = torch.full((4, 1, 3, 3), 0.1, device="cuda", requires_grad=True)
        value = (torch.nn.functional.conv2d(x, w, padding=1) ** 2).mean()
        value.backward()
        loss = float(value.detach()) + 0.0 * float((w - 0.1 * w.grad).sum())
    else:
        raise ValueError(f"unknown backend {name!r}")
    if not math.isfinite(loss):
        raise RuntimeError(f"the training step's loss is {loss}")
    return loss


def _gpu_seen_by(name: str) -> str | None:
    if name == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return None
        details = tf.config.experimental.get_device_details(gpus[0])
        return f"GPU {details.get('device_name', gpus[0].name)}"
    if name == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return f"GPU {gpus[0].device_kind}" if gpus else None
    if name == "torch":
        import torch

        return f"GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else None
    raise ValueError(f"unknown backend {name!r}")


def _device_used(keras) -> str:
    """'GPU <name>' or 'CPU (<n> cores)' for the backend Keras runs on."""
    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_logical_devices("GPU"):
                return _gpu_seen_by("tensorflow") or "GPU"
        elif backend in ("jax", "torch"):
            found = _gpu_seen_by(backend)
            if found:
                return found
    except Exception:  # noqa: BLE001 - the report only
        pass
    return f"CPU ({len(os.sched_getaffinity(0))} cores)"


# --- the student's model ----------------------------------------------------------------

def _output_logits(cnn) -> dict:
    if not hasattr(cnn, "OUTPUT_LOGITS"):
        return {"defined": False, "value": None, "type": None}
    value = cnn.OUTPUT_LOGITS
    return {"defined": True, "value": value if type(value) is bool else None,
            "type": type(value).__name__}


def _build(cnn, keras, input_shape, num_classes):
    """(model, problem): the student's build_model(...) and, if it is not a keras.Model, why."""
    model = cnn.build_model(input_shape=tuple(input_shape), num_classes=int(num_classes))
    if not isinstance(model, keras.Model):
        return None, f"build_model returned {type(model).__name__}, not a keras.Model"
    return model, None


def layer_names(model, depth: int = 0) -> list[str]:
    """Class names of every layer, nested models' layers included."""
    out = []
    for layer in getattr(model, "layers", []):
        out.append(type(layer).__name__)
        if depth < 8 and getattr(layer, "layers", None):
            out += layer_names(layer, depth + 1)
    return out


def custom_parts(model, depth: int = 0) -> list[str]:
    """Lambda layers, classes and activation functions not from Keras, in the model and nested models."""
    out = []
    for obj in [model] if depth == 0 else []:
        cls = type(obj)
        if not cls.__module__.startswith("keras."):
            out.append(f"a custom model class {cls.__name__}")
    for layer in getattr(model, "layers", []):
        cls = type(layer)
        if cls.__name__ in REFUSED_LAYERS and cls.__module__.startswith("keras."):
            out.append(f"a {cls.__name__} layer")
        elif not cls.__module__.startswith("keras."):
            out.append(f"a custom class {cls.__name__}")
        act = getattr(layer, "activation", None)
        if callable(act) and not str(getattr(act, "__module__", "") or "").startswith("keras"):
            out.append(f"a function of your own ({getattr(act, '__name__', type(act).__name__)!r})")
        if depth < 8 and getattr(layer, "layers", None):
            out += custom_parts(layer, depth + 1)
    return out


def summary(cnn, input_shape=(28, 28, 1), num_classes=10, batch=4, seed=0) -> dict:
    """What `dlgrade check` looks at: build_model's result and its output on a random batch."""
    import keras

    keras.utils.set_random_seed(seed)
    model, problem = _build(cnn, keras, input_shape, num_classes)
    out = {"output_logits": _output_logits(cnn), "problem": problem, "backend": keras.backend.backend()}
    if model is None:
        return out
    x = np.random.default_rng(seed).random((batch, *input_shape)).astype(np.float32)
    y = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)))
    out.update(layers=layer_names(model), custom=custom_parts(model), params=int(model.count_params()),
               output_shape=[int(d) for d in y.shape], output_dtype=str(y.dtype))
    if y.dtype.kind == "f" and y.size:
        y = y.astype(np.float64)
        finite = bool(np.isfinite(y).all())
        out.update(finite=finite, min=float(np.nanmin(y)) if finite else None,
                   max=float(np.nanmax(y)) if finite else None,
                   row_sums=[float(s) for s in y.reshape(len(y), -1).sum(axis=1)] if finite else None)
    return out


# --- training under the budget ----------------------------------------------------------

def _callbacks(keras, deadline: float, out_dir: str, state: dict):
    """The grader's callbacks: the time budget (checked every batch) and the epoch checkpoint."""

    class Budget(keras.callbacks.Callback):
        """Stops fitting at the first batch that ends after the deadline."""

        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() >= deadline:
                state["stopped_by_budget"] = True
                self.model.stop_training = True

    class Checkpoint(keras.callbacks.Callback):
        """Saves the model after every epoch, so a `train` that never returns is graded on it."""

        def on_epoch_end(self, epoch, logs=None):
            state["epochs"] += 1
            for key, value in (logs or {}).items():
                state["recorded"].setdefault(str(key), []).append(_number(value))
            with state["lock"]:
                if state["frozen"]:
                    return  # past the budget: the snapshot taken then stands
                try:
                    _save(self.model, out_dir, CHECKPOINT_NAME)
                    state["checkpoints"] += 1
                except Exception as e:  # noqa: BLE001 - reported; training goes on
                    state["checkpoint_error"] = f"{type(e).__name__}: {e}"[:500]

    return [Budget(), Checkpoint()]


def _save(model, out_dir: str, name: str) -> None:
    """model.save to a temporary name, then rename: a kill mid-save leaves the previous file."""
    tmp = os.path.join(out_dir, f"tmp-{name}")
    model.save(tmp)
    os.replace(tmp, os.path.join(out_dir, name))


def _number(value) -> float:
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except Exception:  # noqa: BLE001
        return math.nan


def _history_dict(history) -> dict | None:
    """keras History.history as {str: [float]} (capped), or None if it is not one."""
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


def _accepts_callbacks(train) -> bool:
    try:
        params = inspect.signature(train).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "callbacks" or p.kind is p.VAR_KEYWORD for p in params)


def _images(x: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) -> float32 (N, H, W, 1) in [0, 1]."""
    return (np.asarray(x, dtype=np.float32) / np.float32(255.0))[..., np.newaxis]


def train(cnn, x_train, y_train, x_val, y_val, *, out_dir: str, budget_s: float,
          grace_s: float = 10.0, seed: int = 0) -> dict:
    """Build the student's model, run their `train` for at most `budget_s` seconds, save the model.

    The student's `train` runs in a thread. Given `callbacks`, it gets the grader's: one stops
    fitting at the first batch past the budget, one checkpoints the model after each epoch
    into `out_dir`. If `train` is still running at the budget, this thread saves the model as
    it is then (the checkpoint from then on), and sets `model.stop_training` (for a `train`
    without `callbacks`) for up to `grace_s` seconds. A `train` that returns by then is graded
    on the model it leaves (`out_dir`/model.keras); one that does not is left running (the
    grader kills the sandbox) and graded on the checkpoint, its state at the budget.
    """
    import keras

    keras.utils.set_random_seed(seed)
    state = {"stopped_by_budget": False, "epochs": 0, "checkpoints": 0, "recorded": {},
             "lock": threading.Lock(), "frozen": False}
    result = {"output_logits": _output_logits(cnn), "backend": keras.backend.backend(),
              "budget_s": float(budget_s), "problem": None, "saved": None}
    model, problem = _build(cnn, keras, (28, 28, 1), 10)
    if model is None:
        result["problem"] = problem
        return result
    xt, xv = _images(x_train), _images(x_val)
    yt, yv = np.asarray(y_train, dtype=np.int64), np.asarray(y_val, dtype=np.int64)
    accepts = _accepts_callbacks(cnn.train)
    box: dict = {}

    def run():
        try:
            kwargs = {"callbacks": _callbacks(keras, deadline, out_dir, state)} if accepts else {}
            box["value"] = cnn.train(model, xt, yt, xv, yv, **kwargs)
        except BaseException as e:  # noqa: BLE001 - re-raised below, in the worker's thread
            box["error"] = e

    start = time.monotonic()
    deadline = start + float(budget_s)
    thread = threading.Thread(target=run, name="student-train", daemon=True)
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        state["stopped_by_budget"] = True
        model.stop_training = True  # reaches a fit() that did not get the grader's callbacks
        with state["lock"]:
            state["frozen"] = True
            try:
                _save(model, out_dir, CHECKPOINT_NAME)  # the model at the budget
                state["checkpoints"] += 1
            except Exception as e:  # noqa: BLE001 - an earlier epoch's checkpoint may still be there
                state["checkpoint_error"] = f"{type(e).__name__}: {e}"[:500]
    while thread.is_alive() and time.monotonic() < deadline + grace_s:
        model.stop_training = True
        thread.join(0.2)
    finished = not thread.is_alive()
    seconds = time.monotonic() - start if finished else float(budget_s)
    if finished and "error" in box:
        raise box["error"]
    returned = box.get("value")
    history = _history_dict(returned) if finished else None
    result.update(
        callbacks_accepted=accepts, finished=finished, seconds=seconds,
        stopped_by_budget=state["stopped_by_budget"], epochs=state["epochs"],
        checkpoints=state["checkpoints"], checkpoint_error=state.get("checkpoint_error"),
        returned=type(returned).__name__ if finished else None,
        returned_history=finished and isinstance(returned, keras.callbacks.History),
        history=history if history is not None else state["recorded"],
        device=_device_used(keras), params=int(model.count_params()),
    )
    if not accepts and history:
        result["epochs"] = max((len(v) for v in history.values()), default=0)
    if finished:
        try:
            _save(model, out_dir, FINAL_NAME)
            result["saved"] = FINAL_NAME
        except Exception as e:  # noqa: BLE001 - the grader says the model could not be saved
            result["save_error"] = f"{type(e).__name__}: {e}"[:1000]
    elif state["checkpoints"]:
        result["saved"] = CHECKPOINT_NAME
    else:
        result["save_error"] = state.get("checkpoint_error") or "no checkpoint"
    return result
