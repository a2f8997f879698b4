"""The transfer task's base model: trained once by `dlgrade release` (dlref, fixed seed), shipped, checked.

TensorFlow's training is not bit-reproducible across machines, so the file is never retrained
unless it is missing or `--retrain-base` asks; `release --check` checks that it exists, loads
safely, and matches its metadata (sha256 of the file, seed, epochs, layers, parameter count).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

FILE, META = "transfer_base.keras", "transfer_base.json"


def paths(grader: Path) -> tuple[Path, Path]:
    """(model file, metadata file) in a grader package's course/data/."""
    folder = Path(grader) / "course" / "data"
    return folder / FILE, folder / META


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_and_save(grader: Path) -> dict:
    """Train dlref's base on Fashion-MNIST classes 0-4 and write the file and its metadata; returns the metadata."""
    import keras

    from dlref import data, transfer

    model_path, meta_path = paths(grader)
    x, y = data.load_fashion_mnist("train")
    x_test, y_test = data.load_fashion_mnist("test")
    base = transfer.base_model(seed=transfer.BASE_SEED)
    transfer.train_base(base, *transfer.source_split(x, y))
    model_path.parent.mkdir(parents=True, exist_ok=True)
    base.save(model_path)
    meta = {"seed": transfer.BASE_SEED, "epochs": transfer.BASE_EPOCHS, "source_classes": list(transfer.SOURCE_CLASSES),
            "source_test_accuracy": round(transfer.accuracy(base, *transfer.source_split(x_test, y_test)), 4),
            "params": int(base.count_params()), "layers": [layer.name for layer in base.layers],
            "keras": keras.__version__, "backend": keras.backend.backend(), "sha256": _sha256(model_path)}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def problems(grader: Path) -> list[str]:
    """What is wrong with the shipped base ([] when it exists, loads safely and matches its metadata)."""
    model_path, meta_path = paths(grader)
    if not model_path.is_file() or not meta_path.is_file():
        return [f"{model_path.name} or {meta_path.name} is missing from {model_path.parent}"]
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as e:
        return [f"{meta_path}: not valid JSON ({e})"]
    if meta.get("sha256") != _sha256(model_path):
        return [f"{model_path} is not the file its metadata {meta_path.name} describes (sha256 differs)"]
    found = _loaded(model_path)
    if isinstance(found, str):
        return [f"{model_path} does not load safely: {found}"]
    # dlref is not imported here: the seed and epochs recorded are checked against dlref's in the tests.
    return [f"{meta_path.name}: {k} is {meta.get(k)!r}, expected {v!r}" for k, v in found.items() if meta.get(k) != v]


_MARK = "dlgrade-base:"
_LOAD = ("import json, sys\nimport keras\nbase = keras.saving.load_model(sys.argv[1], compile=False, safe_mode=True)\n"
         "print(sys.argv[2] + json.dumps({'params': int(base.count_params()), 'layers': [l.name for l in base.layers]}))")


def _loaded(model_path: Path) -> dict | str:
    """{"params", "layers"} of the base as Keras loads it (safe_mode), or why it does not load.

    Loaded in a child process whose output is kept unless it fails: TensorFlow's C++ logging (oneDNN
    notes, `failed call to cuInit` on a machine without a GPU) writes to the process's stderr before
    Python can stop it, and a release check should print only its own findings. The GPU is hidden
    there: loading a 140 kB model needs none.
    """
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    try:
        proc = subprocess.run([sys.executable, "-c", _LOAD, str(model_path), _MARK], env=env, capture_output=True,
                              text=True, timeout=300)
    except subprocess.TimeoutExpired:
        return "loading it took more than 300 s"
    lines = [line for line in proc.stdout.splitlines() if line.startswith(_MARK)]
    if proc.returncode != 0 or not lines:
        error = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        return error[-1] if error else f"the loading process exited with status {proc.returncode}"
    return json.loads(lines[-1][len(_MARK):])


def ensure(grader: Path, retrain: bool = False) -> str:
    """Train and save the base when it is missing or `retrain`; a line saying what was done."""
    model_path, meta_path = paths(grader)
    if model_path.is_file() and meta_path.is_file() and not retrain:
        return f"transfer base model: {model_path} kept (--retrain-base to train it again)"
    meta = train_and_save(grader)
    return (f"transfer base model: trained on classes 0-4 (seed {meta['seed']}, {meta['epochs']} epochs, source test "
            f"accuracy {meta['source_test_accuracy']}) and saved to {model_path}")
