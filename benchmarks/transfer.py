"""The reference's transfer learning on Fashion-MNIST: target-task accuracy with transfer and from scratch, and time.

Loads the shipped base (autograder/course/data/transfer_base.keras, trained on classes 0-4), then on
5 images per class of classes 5-9 (course.toml's [transfer]): feature extraction only, feature
extraction + fine-tuning (dlref.transfer.fine_tune), and the grader's from-scratch rival (the same
architecture, fresh weights, all trainable). Prints each one's test accuracy on the 5000 test images
of classes 5-9 and its seconds on this machine's CPU.
Usage: .venv/bin/python benchmarks/transfer.py [--per-class N] [--seeds K]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    from autograder.course.config import load

    course = load().transfer
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=course.images_per_class)
    parser.add_argument("--seeds", type=int, default=1, help="from-scratch runs with seeds 0..K-1")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    import keras

    from autograder.sandbox.transfer import BASE_FILE
    from dlref import data, transfer

    x, y = data.load_fashion_mnist("train", downloader=None)
    x_test, y_test = transfer.target_test(*data.load_fashion_mnist("test", downloader=None))
    split = transfer.few_shot(x, y, args.per_class, course.val_per_class)
    print(f"{args.per_class} images per class of 5-9 ({len(split[0])} in all), {len(split[2])} to validate, "
          f"{len(x_test)} test images; Keras {keras.__version__} on {keras.backend.backend()}, "
          f"{len(os.sched_getaffinity(0))} CPU cores")
    rows = []
    for name, unfreeze in (("feature extraction", False), ("transfer + fine-tuning", True)):
        base = keras.saving.load_model(BASE_FILE, compile=False, safe_mode=True)
        model = transfer.build_transfer_model(base)
        t = time.perf_counter()
        transfer.fine_tune(model, *split, unfreeze=unfreeze)
        rows.append((name, transfer.accuracy(model, x_test, y_test), time.perf_counter() - t))
    for seed in range(args.seeds):
        rival = transfer.from_scratch(model, seed=seed)
        t = time.perf_counter()
        transfer.train_from_scratch(rival, *split, seed=seed)
        rows.append((f"from scratch (seed {seed})", transfer.accuracy(rival, x_test, y_test), time.perf_counter() - t))
    for name, acc, seconds in rows:
        print(f"  {name:28s} test accuracy {acc:.4f}   {seconds:5.1f} s")
    margin = rows[1][1] - max(acc for name, acc, _ in rows[2:])
    print(f"transfer - best from scratch: {margin:+.4f} (course.toml min_margin {course.min_margin:g}); "
          f"total {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
