"""dlref.data: IDX parsing and validation on synthetic gz fixtures, the search order, the real files."""
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlref import data
from dlref.data import (
    CLASS_NAMES,
    DatasetNotFoundError,
    load_fashion_mnist,
    prepare,
    train_val_split,
)

REAL_DIR = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(arr: np.ndarray, magic: int) -> bytes:
    """The IDX encoding of a uint8 array: big-endian magic, one big-endian uint32 per dim, data."""
    dims = np.asarray(arr.shape, dtype=">u4").tobytes()
    return magic.to_bytes(4, "big") + dims + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def write_gz(path: Path, payload: bytes) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(payload)
    return path


def make_split(directory: Path, split: str, n: int, seed: int = 0):
    """Write a synthetic split of n images into directory; return (x, y) as written."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=n, dtype=np.uint8)
    images, labels = data.FILES[split]
    write_gz(directory / images, idx_bytes(x, 0x803))
    write_gz(directory / labels, idx_bytes(y, 0x801))
    return x, y


def no_download(split):
    raise AssertionError("the Keras downloader must not be reached in this test")


@pytest.fixture
def isolated(monkeypatch):
    """No $FASHION_MNIST_DIR and no default locations, so only what a test passes is searched."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setattr(data, "DEFAULT_DIRS", ())


@pytest.mark.parametrize("split", ["train", "test"])
def test_round_trip_synthetic(tmp_path, isolated, split):
    x, y = make_split(tmp_path, split, n=7)
    gx, gy = load_fashion_mnist(split, tmp_path, expected_count=7, downloader=no_download)
    assert gx.shape == (7, 28, 28) and gx.dtype == np.uint8
    assert gy.shape == (7,)
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gy, y)
    assert gx.flags.writeable


def test_limit_keeps_first_samples(tmp_path, isolated):
    x, y = make_split(tmp_path, "test", n=9)
    gx, gy = load_fashion_mnist("test", tmp_path, expected_count=None, limit=4, downloader=no_download)
    np.testing.assert_array_equal(gx, x[:4])
    np.testing.assert_array_equal(gy, y[:4])


def test_count_mismatch_with_split_size(tmp_path, isolated):
    make_split(tmp_path, "train", n=5)
    with pytest.raises(ValueError, match="5 images, expected 60000"):
        load_fashion_mnist("train", tmp_path, downloader=no_download)


def test_label_count_differs_from_image_count(tmp_path, isolated):
    x, y = make_split(tmp_path, "train", n=6)
    write_gz(tmp_path / data.FILES["train"][1], idx_bytes(y[:5], 0x801))
    with pytest.raises(ValueError, match="5 labels for 6 images"):
        load_fashion_mnist("train", tmp_path, expected_count=None, downloader=no_download)


def test_labels_out_of_range(tmp_path, isolated):
    make_split(tmp_path, "test", n=3)
    write_gz(tmp_path / data.FILES["test"][1], idx_bytes(np.array([1, 10, 2]), 0x801))
    with pytest.raises(ValueError, match="labels outside 0..9"):
        load_fashion_mnist("test", tmp_path, expected_count=None, downloader=no_download)


def test_bad_magic_names_the_file(tmp_path, isolated):
    make_split(tmp_path, "test", n=3)
    images = tmp_path / data.FILES["test"][0]
    # Labels' magic in the images file: a swapped file.
    write_gz(images, idx_bytes(np.zeros(3, np.uint8), 0x801))
    with pytest.raises(ValueError, match="magic") as err:
        load_fashion_mnist("test", tmp_path, expected_count=None, downloader=no_download)
    assert str(images) in str(err.value)


def test_truncated_data_names_the_file(tmp_path, isolated):
    make_split(tmp_path, "train", n=4)
    images = tmp_path / data.FILES["train"][0]
    full = idx_bytes(np.zeros((4, 28, 28), np.uint8), 0x803)
    write_gz(images, full[:-100])
    with pytest.raises(ValueError, match="truncated") as err:
        load_fashion_mnist("train", tmp_path, expected_count=None, downloader=no_download)
    assert str(images) in str(err.value)


def test_truncated_gzip_stream(tmp_path, isolated):
    make_split(tmp_path, "train", n=4)
    labels = tmp_path / data.FILES["train"][1]
    labels.write_bytes(labels.read_bytes()[:-12])
    with pytest.raises(ValueError, match="gzip") as err:
        load_fashion_mnist("train", tmp_path, expected_count=None, downloader=no_download)
    assert str(labels) in str(err.value)


def test_not_gzip_at_all(tmp_path, isolated):
    make_split(tmp_path, "test", n=2)
    images = tmp_path / data.FILES["test"][0]
    images.write_bytes(b"this is not a gzip file")
    with pytest.raises(ValueError, match="gzip") as err:
        load_fashion_mnist("test", tmp_path, expected_count=None, downloader=no_download)
    assert str(images) in str(err.value)


def test_wrong_image_size(tmp_path, isolated):
    make_split(tmp_path, "test", n=2)
    write_gz(tmp_path / data.FILES["test"][0], idx_bytes(np.zeros((2, 32, 32), np.uint8), 0x803))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        load_fashion_mnist("test", tmp_path, expected_count=None, downloader=no_download)


def test_not_found_lists_every_place(tmp_path, monkeypatch):
    arg_dir = tmp_path / "arg"
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / data.FILES["test"][0]).write_bytes(b"")  # images present, labels missing
    default_dir = tmp_path / "nowhere"
    monkeypatch.setenv(data.ENV_VAR, str(env_dir))
    monkeypatch.setattr(data, "DEFAULT_DIRS", (str(default_dir),))
    calls = []

    def failing_download(split):
        calls.append(split)
        raise OSError("network unreachable")

    with pytest.raises(DatasetNotFoundError) as err:
        load_fashion_mnist("test", arg_dir, downloader=failing_download)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert calls == ["test"]
    assert f"{arg_dir} (directory argument): no such directory" in msg
    assert f"{env_dir} (${data.ENV_VAR}): missing {data.FILES['test'][1]}" in msg
    assert f"{default_dir} (default location): no such directory" in msg
    assert "load_data(): OSError: network unreachable" in msg
    assert "dataset-fashion-mnist" in msg and data.ENV_VAR in msg


def test_search_order_env_before_defaults(tmp_path, monkeypatch):
    env_dir, default_dir = tmp_path / "env", tmp_path / "default"
    env_dir.mkdir()
    default_dir.mkdir()
    x_env, _ = make_split(env_dir, "test", n=3, seed=1)
    make_split(default_dir, "test", n=3, seed=2)
    monkeypatch.setenv(data.ENV_VAR, str(env_dir))
    monkeypatch.setattr(data, "DEFAULT_DIRS", (str(default_dir),))
    gx, _ = load_fashion_mnist("test", expected_count=3, downloader=no_download)
    np.testing.assert_array_equal(gx, x_env)
    # An explicit directory comes before the environment variable.
    x_arg, _ = make_split(tmp_path, "test", n=3, seed=3)
    gx, _ = load_fashion_mnist("test", tmp_path, expected_count=3, downloader=no_download)
    np.testing.assert_array_equal(gx, x_arg)


def test_downloader_is_the_last_fallback(tmp_path, isolated):
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    y = np.array([0, 9, 3, 3], dtype=np.uint8)
    gx, gy = load_fashion_mnist(
        "train", tmp_path / "missing", expected_count=4, downloader=lambda split: (x, y)
    )
    np.testing.assert_array_equal(gx, x)
    np.testing.assert_array_equal(gy, y)


def test_downloader_output_is_validated(tmp_path, isolated):
    bad = (np.zeros((4, 28, 28), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="3 labels for 4 images"):
        load_fashion_mnist("train", tmp_path, expected_count=None, downloader=lambda split: bad)


def test_unknown_split():
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation", downloader=no_download)


def test_class_names():
    assert len(CLASS_NAMES) == 10
    assert CLASS_NAMES[0] == "T-shirt/top" and CLASS_NAMES[9] == "Ankle boot"
    assert len(set(CLASS_NAMES)) == 10


def test_prepare_scales_and_adds_channel():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # (1, 2, 2)
    out = prepare(x)
    assert out.shape == (1, 2, 2, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, :, :, 0], np.array([[0.0, 1.0], [0.2, 0.4]], np.float32))
    np.testing.assert_array_equal(prepare(x[..., None]), out)
    with pytest.raises(ValueError):
        prepare(np.zeros((2, 4, 4, 3), np.uint8))


def test_train_val_split_partitions_and_is_seeded():
    x = np.arange(50).reshape(50, 1) * np.ones((1, 3), dtype=np.int64)
    y = np.arange(50)
    xtr, ytr, xv, yv = train_val_split(x, y, val_fraction=0.2, seed=3)
    assert len(xv) == 10 and len(xtr) == 40
    # Rows stay paired with their labels, and every sample lands in exactly one part.
    np.testing.assert_array_equal(xtr[:, 0], ytr)
    np.testing.assert_array_equal(xv[:, 0], yv)
    assert sorted(np.concatenate([ytr, yv]).tolist()) == list(range(50))
    again = train_val_split(x, y, val_fraction=0.2, seed=3)
    np.testing.assert_array_equal(again[3], yv)
    other = train_val_split(x, y, val_fraction=0.2, seed=4)
    assert not np.array_equal(other[3], yv)
    with pytest.raises(ValueError):
        train_val_split(x, y, val_fraction=1.0)


def test_import_does_not_load_keras_or_tensorflow():
    code = "import sys, dlref.data; print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.skipif(not REAL_DIR.is_dir(), reason=f"{REAL_DIR} missing (apt-get install dataset-fashion-mnist)")
@pytest.mark.parametrize("split, n", [("train", 60000), ("test", 10000)])
def test_real_data(split, n):
    x, y = load_fashion_mnist(split, REAL_DIR, downloader=no_download)
    assert x.shape == (n, 28, 28) and x.dtype == np.uint8
    assert y.shape == (n,) and y.dtype == np.uint8
    # Fashion-MNIST is balanced: every class has exactly a tenth of each split.
    np.testing.assert_array_equal(np.bincount(y, minlength=10), np.full(10, n // 10))
    assert x.max() == 255 and x.min() == 0
