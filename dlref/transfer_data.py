"""The transfer task's data (numpy only): the source classes, the few-shot target split, the target test set.

Fashion-MNIST classes 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat) are the source task;
classes 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), relabelled 0-4, the target task.
"""
from __future__ import annotations

import numpy as np

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
SUBSET_SEED = 0
IMAGES_PER_CLASS = 5  # 5: transfer beats from-scratch by ~0.08; at 10 and 20 by ~0.03 (benchmarks/transfer.py)
VAL_PER_CLASS = 50


def source_split(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images of classes 0-4 and their labels (unchanged, 0..4)."""
    keep = np.isin(y, SOURCE_CLASSES)
    return x[keep], np.asarray(y[keep], dtype=np.int64)


def target_test(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The images of classes 5-9 and their labels relabelled 0..4 (label - 5)."""
    keep = np.isin(y, TARGET_CLASSES)
    return x[keep], np.asarray(y[keep], dtype=np.int64) - TARGET_CLASSES[0]


def few_shot(x: np.ndarray, y: np.ndarray, per_class: int = IMAGES_PER_CLASS, val_per_class: int = VAL_PER_CLASS,
             seed: int = SUBSET_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_small, y_small, x_val, y_val) from the training split: per class of 5-9 (in order), a seeded
    permutation of its images (np.random.default_rng(seed).permutation, one draw per class); its first
    `per_class` go to training, the next `val_per_class` to validation. Labels 0..4; sorted by class."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for k in TARGET_CLASSES:
        where = np.flatnonzero(y == k)
        if len(where) < per_class + val_per_class:
            raise ValueError(f"class {k} has {len(where)} images, fewer than {per_class + val_per_class}")
        order = where[rng.permutation(len(where))]
        train.append(order[:per_class])
        val.append(order[per_class:per_class + val_per_class])
    train, val = np.concatenate(train), np.concatenate(val)
    offset = TARGET_CLASSES[0]
    return x[train], np.asarray(y[train], dtype=np.int64) - offset, x[val], np.asarray(y[val], dtype=np.int64) - offset
