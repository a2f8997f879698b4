"""The CNN's model file judged without Keras: a regular file of bounded size, a plain .keras archive, no code of the student's."""
from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path


from autograder.sandbox import cnn as cnn_sandbox

MODEL_MEMBERS = {"config.json", "metadata.json", "model.weights.h5"}
CONFIG_MAX_BYTES = 8 * 2**20
# Modules a .keras config may name: Keras' own public layers, initializers, regularizers,
# constraints, dtype policies and models. Anything else is the student's code.
ALLOWED_MODULES = {"keras", "keras.layers", "keras.initializers", "keras.regularizers",
                   "keras.constraints", "keras.src.models.functional", "keras.models"}
# Built-in layers that run arbitrary code or read files when loaded.
REFUSED_LAYERS = {"Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer",
                  "TextVectorization", "StringLookup", "IntegerLookup"}


class ModelRefused(Exception):
    """The saved model is not graded; the message says why, for the student.

    `stage`: "file" (missing, not a regular file, too big), "unsafe" (not a plain .keras
    archive, or a Lambda layer or code of the student's), "load" (Keras could not load it),
    "params" (over the cap), "evaluate" (failed or too slow on the test images).
    """

    def __init__(self, message: str, stage: str = "unsafe", params: int | None = None):
        super().__init__(message)
        self.stage, self.params = stage, params


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of `path` if it is a regular file (not a link, fifo, device) of at most max_bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as e:
        raise ModelRefused(f"{path.name} in the output directory is not a regular file ({e.strerror})",
                           "file") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise ModelRefused(f"{path.name} in the output directory is not a regular file", "file")
        if info.st_size > max_bytes:
            raise ModelRefused(f"the saved model is {info.st_size:,} bytes, over the {max_bytes:,}-byte cap",
                               "file")
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ModelRefused(f"the saved model is over the {max_bytes:,}-byte cap", "file")
    return data


# --- checks without Keras ----------------------------------------------------------------------

def check_archive(path: Path, max_params: int) -> dict:
    """The parsed config.json of a .keras file after structural checks; ModelRefused otherwise."""
    cap = cnn_sandbox.model_file_cap(max_params)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            extra = sorted(names - MODEL_MEMBERS)
            if extra or len(infos) != len(names) or "config.json" not in names or "model.weights.h5" not in names:
                raise ModelRefused("the saved model is not a plain .keras file (expected config.json, "
                                   f"metadata.json and model.weights.h5; found {', '.join(sorted(names))[:300]})")
            if sum(i.file_size for i in infos) > cap:
                raise ModelRefused(f"the saved model unpacks to more than {cap:,} bytes")
            info = zf.getinfo("config.json")
            if info.file_size > CONFIG_MAX_BYTES:
                raise ModelRefused(f"the model's config.json is over {CONFIG_MAX_BYTES:,} bytes")
            text = zf.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
        raise ModelRefused(f"the saved model is not a valid .keras file ({type(e).__name__}: {e})") from None
    try:
        config = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ModelRefused(f"the model's config.json is not valid JSON ({type(e).__name__})") from None
    problems = unsafe_objects(config)
    if problems:
        raise ModelRefused(f"your model uses {problems[0]}, which the grader cannot load safely; "
                           "use built-in Keras layers (keras.layers.Conv2D, MaxPooling2D, Dense, ...)"
                           + (f" (also: {'; '.join(problems[1:4])})" if len(problems) > 1 else ""))
    return config


def unsafe_objects(config) -> list[str]:
    """Lambda layers, student classes and functions named in a .keras config (compile_config skipped:
    the model is loaded without compiling)."""
    found: list[str] = []

    def walk(node, depth):
        if depth > 200:
            found.append("a config nested too deeply")
            return
        if isinstance(node, list):
            for v in node:
                walk(v, depth + 1)
            return
        if not isinstance(node, dict):
            return
        name, module = node.get("class_name"), node.get("module")
        if isinstance(name, str):
            what = _refusal(name, module, node)
            if what and what not in found:
                found.append(what)
        for key, v in node.items():
            if key != "compile_config":
                walk(v, depth + 1)

    try:
        walk(config, 0)
    except RecursionError:
        found.append("a config nested too deeply")
    return found


def config_layers(config) -> list[str]:
    """Class names of the built-in layers a (checked) .keras config declares, in order."""
    names: list[str] = []

    def walk(node, depth):
        if depth > 200:
            return
        if isinstance(node, list):
            for v in node:
                walk(v, depth + 1)
        elif isinstance(node, dict):
            if node.get("module") == "keras.layers" and isinstance(node.get("class_name"), str):
                names.append(node["class_name"])
            for key, v in node.items():
                if key != "compile_config":
                    walk(v, depth + 1)

    walk(config, 0)
    return names


def _refusal(name: str, module, node: dict) -> str | None:
    if name in ("Lambda", "__lambda__"):
        return "a Lambda layer"
    if name == "__keras_tensor__" and module is None:
        return None
    if name == "function":
        fn = node.get("config")
        return f"a function of your own ({str(fn)[:60]!r})" if isinstance(fn, str) else "a function of your own"
    if module not in ALLOWED_MODULES:
        shown = node.get("registered_name") or name
        where = f" from module {str(module)[:60]}" if module else ""
        return f"a custom class {str(shown)[:80]}{where}"
    if name in REFUSED_LAYERS:
        return f"a {name} layer"
    return None
