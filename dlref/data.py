"""Fashion-MNIST from its IDX gz files (numpy + gzip only), and the preprocessing the CNN expects."""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

ENV_VAR = "FASHION_MNIST_DIR"
# Searched after an explicit directory and $FASHION_MNIST_DIR: Debian's
# `dataset-fashion-mnist` package, then the cache Keras' downloader fills.
DEFAULT_DIRS: tuple[str, ...] = (
    "/usr/share/datasets/fashion-mnist",
    "~/.keras/datasets/fashion-mnist",
)
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
SPLIT_SIZES = {"train": 60000, "test": 10000}
IMAGE_SHAPE = (28, 28)
IMAGES_MAGIC = 0x00000803  # unsigned byte, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned byte, 1 dimension

Downloader = Callable[[str], "tuple[np.ndarray, np.ndarray]"]


class DatasetNotFoundError(FileNotFoundError):
    """Fashion-MNIST was in none of the places searched; the message lists each one and why."""


def read_idx(path: str | os.PathLike, magic: int) -> np.ndarray:
    """uint8 array of an IDX gz file whose header must carry `magic` (0x0803: (N, H, W), 0x0801: (N,))."""
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        # OSError covers gzip.BadGzipFile; EOFError a gz stream cut short.
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable gzip file ({type(e).__name__}: {e})") from e
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes, too short for an IDX header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: bad IDX magic number 0x{found:08x}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: header says dims {dims} ({expected} bytes of data) "
            f"but the file holds {len(raw) - header} bytes of data"
            + (" (truncated)" if len(raw) - header < expected else "")
        )
    # A copy, so the caller gets a writable array that does not pin the raw bytes.
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def _validate(x: np.ndarray, y: np.ndarray, expected_count: int | None, source: str) -> None:
    """Raise ValueError unless x is uint8 (N, 28, 28), y (N,) in 0..9 and N == expected_count (if given)."""
    if x.ndim != 3 or x.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{source}: images have shape {x.shape}, expected (N, 28, 28)")
    if y.ndim != 1:
        raise ValueError(f"{source}: labels have shape {y.shape}, expected (N,)")
    if len(y) != len(x):
        raise ValueError(f"{source}: {len(y)} labels for {len(x)} images")
    if expected_count is not None and len(x) != expected_count:
        raise ValueError(f"{source}: {len(x)} images, expected {expected_count}")
    if y.size and (int(y.min()) < 0 or int(y.max()) >= len(CLASS_NAMES)):
        raise ValueError(f"{source}: labels outside 0..9 (min {int(y.min())}, max {int(y.max())})")


def _keras_download(split: str) -> tuple[np.ndarray, np.ndarray]:
    """The split from keras.datasets.fashion_mnist.load_data() (downloads into ~/.keras/datasets)."""
    from keras.datasets import fashion_mnist  # lazy: importing keras starts a backend

    train, test = fashion_mnist.load_data()
    return train if split == "train" else test


def _candidate_dirs(directory, search_dirs) -> list[tuple[str, Path]]:
    """(label, path) of every directory to try, in search order."""
    places = []
    if directory is not None:
        places.append(("directory argument", Path(directory).expanduser()))
    env = os.environ.get(ENV_VAR)
    if env:
        places.append((f"${ENV_VAR}", Path(env).expanduser()))
    for d in DEFAULT_DIRS if search_dirs is None else search_dirs:
        places.append(("default location", Path(d).expanduser()))
    return places


def load_fashion_mnist(
    split: str = "train",
    directory: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    expected_count: int | None | str = "auto",
    search_dirs: Sequence[str | os.PathLike] | None = None,
    downloader: Downloader | None = _keras_download,
) -> tuple[np.ndarray, np.ndarray]:
    """(x uint8 (N, 28, 28), y uint8 (N,)) of the "train" (N=60000) or "test" (N=10000) split.

    Tries `directory`, $FASHION_MNIST_DIR, `search_dirs` (default DEFAULT_DIRS), then `downloader`
    (Keras' downloader; None to skip it). `expected_count`: "auto" = the split's size, None = any
    size (small fixtures only). `limit` keeps the first `limit` samples. Corrupt files: ValueError.
    """
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if expected_count == "auto":
        expected_count = SPLIT_SIZES[split]
    images_name, labels_name = FILES[split]
    tried = []
    for label, d in _candidate_dirs(directory, search_dirs):
        where = f"{d} ({label})"
        if not d.is_dir():
            tried.append(f"{where}: no such directory")
            continue
        missing = [n for n in (images_name, labels_name) if not (d / n).is_file()]
        if missing:
            tried.append(f"{where}: missing {', '.join(missing)}")
            continue
        # A file that is present but corrupt raises here rather than being skipped:
        # silently falling back to another copy would hide the damage.
        x = read_idx(d / images_name, IMAGES_MAGIC)
        y = read_idx(d / labels_name, LABELS_MAGIC)
        _validate(x, y, expected_count, f"{d / images_name} + {labels_name}")
        return _limited(x, y, limit)
    if downloader is not None:
        try:
            x, y = downloader(split)
        except Exception as e:  # any failure (no keras, no network, bad cache) is one more place tried
            tried.append(f"keras.datasets.fashion_mnist.load_data(): {type(e).__name__}: {e}")
        else:
            x, y = np.asarray(x), np.asarray(y)
            _validate(x, y, expected_count, "keras.datasets.fashion_mnist.load_data()")
            return _limited(x.astype(np.uint8, copy=False), y.astype(np.uint8, copy=False), limit)
    else:
        tried.append("keras.datasets.fashion_mnist.load_data(): skipped (no downloader)")
    raise DatasetNotFoundError(
        f"Fashion-MNIST {split} split ({images_name}, {labels_name}) not found. Tried:\n"
        + "\n".join(f"  - {t}" for t in tried)
        + f"\nInstall Debian's package (apt-get install dataset-fashion-mnist) or set {ENV_VAR} "
        "to a directory holding the four *-ubyte.gz files."
    )


def _limited(x: np.ndarray, y: np.ndarray, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The first `limit` samples (all if None)."""
    if limit is None:
        return x, y
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    return x[:limit], y[:limit]


def prepare(x: np.ndarray) -> np.ndarray:
    """x: uint8 (N, H, W) or (N, H, W, 1) in 0..255 -> float32 (N, H, W, 1) in [0, 1]."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ValueError(f"expected (N, H, W) or (N, H, W, 1) images, got shape {x.shape}")
    return x.astype(np.float32) / np.float32(255.0)


def train_val_split(
    x: np.ndarray, y: np.ndarray, val_fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_val, y_val): a seeded random split, round(N * val_fraction) samples to val."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} samples but {len(y)} labels")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n_val = int(round(len(x) * val_fraction))
    order = np.random.default_rng(seed).permutation(len(x))
    val, train = order[:n_val], order[n_val:]
    return x[train], y[train], x[val], y[val]
