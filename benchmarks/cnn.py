"""Full reference CNN run on Fashion-MNIST: test accuracy, epochs, seconds per epoch, wall time, size.

The course's goal: >= 0.92 test accuracy within 5 minutes (training + evaluation) on a 2-core CPU.
Usage: .venv/bin/python benchmarks/cnn.py [--epochs N] [--batch-size B] [--time-budget S] [--data-dir D]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_ACCURACY = 0.92
GOAL_SECONDS = 300.0


def device_description(backend: str) -> str:
    """'GPU (...)' or 'CPU' for the active Keras backend."""
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return f"GPU ({', '.join(g.name for g in gpus)})" if gpus else "CPU"
    if backend == "jax":
        import jax

        return ", ".join(f"{d.platform.upper()} ({d.device_kind})" for d in jax.devices())
    if backend == "torch":
        import torch

        return f"GPU ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "CPU"
    return "unknown"


def thread_description(backend: str) -> str:
    """Cores this process may use, and the backend's thread pools where it says."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = f"{usable} usable cores (os.cpu_count() = {os.cpu_count()})"
    if backend == "tensorflow":
        import tensorflow as tf

        intra = tf.config.threading.get_intra_op_parallelism_threads()
        inter = tf.config.threading.get_inter_op_parallelism_threads()
        # 0 means TensorFlow picks: one intra-op thread per usable core.
        text += f", TF intra-op {intra or 'auto'}, inter-op {inter or 'auto'}"
    return text


def main(argv=None) -> int:
    import numpy as np

    from dlref import cnn
    from dlref.data import load_fashion_mnist, prepare, train_val_split

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=cnn.EPOCHS)
    parser.add_argument("--batch-size", type=int, default=cnn.BATCH_SIZE)
    parser.add_argument("--time-budget", type=float, default=None, help="seconds; stop before overrunning")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    load_start = os.getloadavg()
    import keras  # noqa: E402  (after argparse, so --help is instant)

    t_imported = time.perf_counter()
    x, y = load_fashion_mnist("train", args.data_dir)
    xt, yt = load_fashion_mnist("test", args.data_dir)
    x_train, y_train, x_val, y_val = train_val_split(prepare(x), y, val_fraction=0.1, seed=args.seed)
    xt = prepare(xt)
    t_loaded = time.perf_counter()

    epoch_times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._t, self._c = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(time.perf_counter() - self._t)
            print(
                f"  epoch {epoch + 1}: {epoch_times[-1]:.1f} s ({time.process_time() - self._c:.1f} s CPU), loss {logs['loss']:.4f}, "
                f"acc {logs['accuracy']:.4f}, val_acc {logs['val_accuracy']:.4f}, "
                f"load avg {os.getloadavg()[0]:.2f}",
                flush=True,
            )

    backend = keras.backend.backend()
    print(f"backend: {backend} (keras {keras.__version__}), device: {device_description(backend)}")
    print(f"threads: {thread_description(backend)}")
    print(f"data: {len(x_train)} train / {len(x_val)} val / {len(xt)} test", flush=True)

    t_train = time.perf_counter()
    cpu_train = time.process_time()
    model = cnn.build_model(seed=args.seed)
    history = cnn.train(
        model, x_train, y_train, x_val, y_val,
        epochs=args.epochs, batch_size=args.batch_size, callbacks=[EpochTimer()],
        time_budget_s=args.time_budget, seed=args.seed,
    )
    t_trained = time.perf_counter()
    out = np.asarray(model.predict(xt, batch_size=512, verbose=0))
    accuracy = float(np.mean(np.argmax(out, axis=1) == yt))
    t_done = time.perf_counter()
    cpu_used = time.process_time() - cpu_train

    fit_eval = t_done - t_train
    total = t_done - T_START
    best = int(np.argmax(history.history["val_accuracy"])) + 1
    print(f"parameters: {model.count_params()}")
    print(f"epochs: {len(history.epoch)} of {args.epochs} (weights of epoch {best}, best val_accuracy)")
    print(f"batch size: {args.batch_size}")
    print(
        f"seconds per epoch: mean {np.mean(epoch_times):.1f}, "
        f"first {epoch_times[0]:.1f} (includes tracing), min {min(epoch_times):.1f}, max {max(epoch_times):.1f}"
    )
    print(f"test accuracy: {accuracy:.4f} (goal >= {GOAL_ACCURACY})")
    print(f"training: {t_trained - t_train:.1f} s, evaluation: {t_done - t_trained:.1f} s")
    print(f"training + evaluation: {fit_eval:.1f} s (goal <= {GOAL_SECONDS:.0f} s)")
    # Unlike the wall time, CPU time hardly grows when other processes share the cores; on an
    # otherwise idle machine the wall time is at least cpu / cores.
    print(f"CPU time of training + evaluation: {cpu_used:.1f} s (this process, all threads)")
    print(
        f"total wall time: {total:.1f} s (keras import {t_imported - T_START:.1f} s, "
        f"data {t_loaded - t_imported:.1f} s)"
    )
    load_end = os.getloadavg()
    print(f"load average (1/5/15 min): start {load_start[0]:.2f}/{load_start[1]:.2f}/{load_start[2]:.2f}, "
          f"end {load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}")
    met = accuracy >= GOAL_ACCURACY and fit_eval <= GOAL_SECONDS
    print(f"goal met: {'yes' if met else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
