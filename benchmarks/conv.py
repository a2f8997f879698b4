"""Time dlref's conv2d forward+backward against TensorFlow's on the same inputs (CPU).

Run: .venv/bin/python benchmarks/conv.py [--repeats R]

Workload: N=64 images 28x28x8 -> 16 channels, 3x3 kernel, stride 1, 'same' padding.
dlref: conv2d_forward then conv2d_backward (dx, dw, db).
TensorFlow: eager tf.nn.conv2d + b under a GradientTape, then the gradient w.r.t. x, w and b
for the same upstream gradient. Both in float64 (the compared figure); TF in float32 is
printed for information only. Each timing is the median of R repeats after a warm-up.
Goal (issue): dlref within 3x of TensorFlow on CPU.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

from dlref.conv import conv2d_backward, conv2d_forward  # noqa: E402

N, H, W, C_IN, C_OUT, K, STRIDE, PADDING = 64, 28, 28, 8, 16, 3, 1, "same"


def median_seconds(fn, repeats: int) -> float:
    """Median wall time of `fn()` over `repeats` calls, after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def blas_info() -> str:
    """Name/version of numpy's BLAS and its thread count (threadpoolctl if installed, else OpenBLAS via ctypes)."""
    cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    name = f"{cfg.get('name')} {cfg.get('version', '')}".strip()
    threads = None
    try:
        from threadpoolctl import threadpool_info

        threads = [f"{d['internal_api']}:{d['num_threads']}" for d in threadpool_info()]
    except ImportError:
        # OpenBLAS exposes its thread count; find the library numpy loaded.
        try:
            with open("/proc/self/maps") as f:
                libs = {line.split()[-1] for line in f if "openblas" in line.lower()}
            for lib in libs:
                handle = ctypes.CDLL(lib)
                for sym in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                            "openblas_get_num_threads"):
                    if hasattr(handle, sym):
                        threads = [f"openblas:{getattr(handle, sym)()}"]
                        break
                if threads:
                    break
        except OSError:
            pass
    return f"{name}, threads: {', '.join(threads) if threads else 'unknown'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, H, W, C_IN))
    w = rng.standard_normal((K, K, C_IN, C_OUT)) * 0.1
    b = rng.standard_normal(C_OUT)
    out = conv2d_forward(x, w, b, STRIDE, PADDING)
    dout = rng.standard_normal(out.shape)

    def run_dlref():
        conv2d_forward(x, w, b, STRIDE, PADDING)
        return conv2d_backward(dout, x, w, STRIDE, PADDING)

    def make_tf(dtype):
        xt, wt, bt, dt = (tf.constant(a, dtype=dtype) for a in (x, w, b, dout))

        def run():
            with tf.GradientTape() as tape:
                tape.watch([xt, wt, bt])
                y = tf.nn.conv2d(xt, wt, STRIDE, PADDING.upper()) + bt
            grads = tape.gradient(y, [xt, wt, bt], output_gradients=dt)
            return [g.numpy() for g in grads]  # forces the computation to finish

        return run

    # Same results before timing, so the comparison is of equal work.
    ref = run_dlref()
    got = make_tf(tf.float64)()
    err = max(float(np.max(np.abs(a - g))) for a, g in zip(ref, got))

    t_dl = median_seconds(run_dlref, args.repeats)
    t_tf64 = median_seconds(make_tf(tf.float64), args.repeats)
    t_tf32 = median_seconds(make_tf(tf.float32), args.repeats)

    print(f"workload: N={N}, {H}x{W}x{C_IN} -> {C_OUT}, {K}x{K} kernel, stride {STRIDE}, '{PADDING}'")
    print(f"numpy {np.__version__}, BLAS: {blas_info()}")
    print(f"tensorflow {tf.__version__}, intra-op threads: "
          f"{tf.config.threading.get_intra_op_parallelism_threads() or 'default (all cores)'}, "
          f"cpu cores: {os.cpu_count()}")
    print(f"load average (1, 5, 15 min): {', '.join(f'{v:.2f}' for v in os.getloadavg())}"
          " (timings are noisy when other processes share the cores)")
    print(f"max |dlref - tf| over dx, dw, db (float64): {err:.2e}")
    print(f"median of {args.repeats} repeats, forward + backward:")
    print(f"  dlref float64:           {t_dl:.4f} s")
    print(f"  tensorflow float64:      {t_tf64:.4f} s")
    print(f"  tensorflow float32:      {t_tf32:.4f} s  (information only)")
    print(f"ratio dlref / tensorflow (float64): {t_dl / t_tf64:.2f}  (goal: <= 3)")
    print(f"ratio dlref / tensorflow float32:   {t_dl / t_tf32:.2f}  (information only)")


if __name__ == "__main__":
    main()
