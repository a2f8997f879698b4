"""The CNN task's grading: sandboxed training under a time budget, the safe load, the test-set score.

Graded runs use a small subset (3000 training images, 1000 test images) and budgets of 5-20 s,
so they test the machinery, not the model: the full run is `benchmarks/cnn.py`. Each graded
run starts TensorFlow twice (in the sandbox, in the evaluating process). The checks that
need no sandbox (archive and config scans, metrics, settings, the command line) come first.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from autograder.cnn import grading as cnn_grading
from autograder.sandbox import cnn as cnn_sandbox
from autograder.grading import runner
from autograder.sandbox import bwrap as S
from autograder.course.config import Cnn, parse
from autograder.grading.grade import check_cnn_options, submission_timeout, suite_env

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = runner.SUITES / "hidden" / "test_cnn.py"
SOLUTION = ROOT / "solutions" / "cnn.py" if (ROOT / "solutions" / "cnn.py").exists() else ROOT / "dlref" / "cnn.py"
COURSE = """
[cnn]
budget_cpu_s = 20.0
train_limit = 3000
test_limit = 1000
"""


def _dataset_problem() -> str | None:
    try:
        from dlref.data import load_fashion_mnist

        load_fashion_mnist("test", limit=1, downloader=None)
    except Exception as e:  # noqa: BLE001 - any reason is a reason to skip
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"
    return None


def _grading_problem() -> str | None:
    import importlib.util

    if importlib.util.find_spec("keras") is None:
        return "keras is not installed"
    if not S.bwrap_available():
        return f"bubblewrap sandbox unavailable: {S.bwrap_problem()}"
    return _dataset_problem()


GRADING_PROBLEM = _grading_problem()
needs_grading = pytest.mark.skipif(GRADING_PROBLEM is not None, reason=f"cannot grade the CNN here: {GRADING_PROBLEM}")


# --- no sandbox needed ----------------------------------------------------------------------

def test_accuracy_steps_share_each_interval_equally():
    assert cnn_grading.accuracy_steps([0.70, 0.85, 0.91]) == [0.775, 0.85, 0.88, 0.91]
    assert cnn_grading.accuracy_steps([0.5, 0.9], per_interval=4) == [0.6, 0.7, 0.8, 0.9]


def test_metrics_by_hand():
    logits = np.zeros((4, 10))
    logits[0, 0] = logits[1, 1] = logits[2, 1] = 5.0  # predictions 0, 1, 1
    logits[3, 2] = np.nan  # a broken output row counts as wrong and stays out of the matrix
    m = cnn_grading.metrics(logits, np.array([0, 1, 2, 2]), output_logits=True)
    assert m["accuracy"] == 0.5
    per = m["per_class_accuracy"]
    assert (per["T-shirt/top"], per["Trouser"], per["Pullover"], per["Dress"]) == (1.0, 1.0, 0.0, None)
    expected = np.zeros((10, 10), dtype=int)
    expected[0, 0] = expected[1, 1] = expected[2, 1] = 1
    assert m["confusion_matrix"] == expected.tolist()
    assert m["non_finite_outputs"] == 1 and m["test_loss"] is None and m["test_images"] == 4


def test_metrics_loss_uses_softmax_only_for_logits():
    probs = np.full((2, 10), 0.05)
    probs[:, 3] = 0.55
    as_probs = cnn_grading.metrics(probs, np.array([3, 3]), output_logits=False)
    assert as_probs["test_loss"] == pytest.approx(-np.log(0.55), rel=1e-12)  # exact arithmetic, float64
    as_logits = cnn_grading.metrics(probs, np.array([3, 3]), output_logits=True)
    p = np.exp(0.55) / (np.exp(0.55) + 9 * np.exp(0.05))
    assert as_logits["test_loss"] == pytest.approx(-np.log(p), rel=1e-12)
    assert as_probs["accuracy"] == as_logits["accuracy"] == 1.0


def _layer(class_name, module="keras.layers", **extra):
    return {"module": module, "class_name": class_name, "config": {"name": class_name.lower()},
            "registered_name": None, **extra}


def _model_config(*layers, compile_config=None):
    return {"module": "keras", "class_name": "Sequential",
            "config": {"name": "m", "layers": [_layer("InputLayer"), *layers],
                       "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}},
            "compile_config": compile_config}


def test_builtin_layers_are_safe_and_listed():
    config = _model_config(_layer("Conv2D"), _layer("MaxPooling2D"), _layer("Flatten"), _layer("Dense"),
                           compile_config={"loss": {"module": "cnn", "class_name": "MyLoss"}})
    assert cnn_grading.unsafe_objects(config) == []  # compile_config is never loaded (compile=False)
    assert cnn_grading.config_layers(config) == ["InputLayer", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]


@pytest.mark.parametrize("layer, expected", [
    (_layer("Lambda"), "a Lambda layer"),
    ({"module": None, "class_name": "MyBlock", "registered_name": "MyBlock", "config": {}}, "a custom class MyBlock"),
    (_layer("Dense", config={"activation": {"module": "builtins", "class_name": "function", "config": "swish2"}}),
     "a function of your own ('swish2')"),
    (_layer("TFSMLayer"), "a TFSMLayer layer"),
    (_layer("Conv2D", module="keras.src.saving.saving_lib"), "a custom class Conv2D from module keras.src.saving"),
])
def test_unsafe_objects_are_named(layer, expected):
    found = cnn_grading.unsafe_objects(_model_config(layer))
    assert found and found[0].startswith(expected), found


def _keras_file(path: Path, config: dict, extra: dict | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", "{}")
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", b"\0" * 16)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_archive_check_refuses_lambda_with_a_clear_message(tmp_path):
    path = _keras_file(tmp_path / "m.keras", _model_config(_layer("Lambda"), _layer("Dense")))
    with pytest.raises(cnn_grading.ModelRefused) as e:
        cnn_grading.check_archive(path, 1000)
    assert "Lambda layer, which the grader cannot load safely; use built-in Keras layers" in str(e.value)
    assert e.value.stage == "unsafe"


def test_archive_check_refuses_other_files_and_non_zips(tmp_path):
    good = _model_config(_layer("Dense"))
    assert cnn_grading.check_archive(_keras_file(tmp_path / "ok.keras", good), 1000) == good
    with pytest.raises(cnn_grading.ModelRefused, match="not a plain .keras file"):
        cnn_grading.check_archive(_keras_file(tmp_path / "x.keras", good, {"evil.py": "import os"}), 1000)
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(cnn_grading.ModelRefused, match="not a valid .keras file"):
        cnn_grading.check_archive(tmp_path / "junk.keras", 1000)


def test_model_file_must_be_a_regular_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("trusted data")
    (tmp_path / "link.keras").symlink_to(secret)
    with pytest.raises(cnn_grading.ModelRefused, match="not a regular file"):
        cnn_grading.read_regular_file(tmp_path / "link.keras", 1 << 20)
    os.mkfifo(tmp_path / "fifo.keras")  # opening must not block
    with pytest.raises(cnn_grading.ModelRefused, match="not a regular file"):
        cnn_grading.read_regular_file(tmp_path / "fifo.keras", 1 << 20)
    (tmp_path / "big.keras").write_bytes(b"x" * 100)
    with pytest.raises(cnn_grading.ModelRefused, match="100 bytes, over the 99-byte cap"):
        cnn_grading.read_regular_file(tmp_path / "big.keras", 99)
    with pytest.raises(FileNotFoundError):
        cnn_grading.read_regular_file(tmp_path / "none.keras", 99)


def test_gpu_requested_without_a_gpu_is_a_clear_error():
    with pytest.raises(cnn_sandbox.DeviceError,
                       match=r"--device gpu was requested, but this machine has no NVIDIA GPU"):
        cnn_sandbox.plan_device("gpu", devices=[])


def test_cpu_and_auto_without_gpu_train_on_the_cpu_budget():
    cnn = Cnn(budget_cpu_s=300.0, budget_gpu_s=60.0)
    for requested in ("cpu", "auto"):
        plan = cnn_sandbox.plan_device(requested, devices=[])
        assert not plan.gpu and plan.devices == () and plan.budget(cnn) == 300.0
        assert plan.budget(cnn, override=12.5) == 12.5
    gpu = cnn_sandbox.DevicePlan(gpu=True, backend="jax", devices=("/dev/nvidia0",))
    assert gpu.budget(cnn) == 60.0


def test_settings_from_the_environment():
    assert cnn_sandbox.requested_device({}) == "auto"
    assert cnn_sandbox.requested_device({"DLGRADE_DEVICE": "cpu"}) == "cpu"
    with pytest.raises(cnn_sandbox.DeviceError, match="auto, cpu, gpu"):
        cnn_sandbox.requested_device({"DLGRADE_DEVICE": "tpu"})
    assert cnn_sandbox.budget_override({}) is None
    assert cnn_sandbox.budget_override({"DLGRADE_CNN_BUDGET": "42.5"}) == 42.5
    with pytest.raises(ValueError, match="DLGRADE_CNN_BUDGET"):
        cnn_sandbox.budget_override({"DLGRADE_CNN_BUDGET": "-3"})


def test_cli_options_reach_the_grading_process_and_gpu_is_checked_first(monkeypatch):
    args = Namespace(cnn_budget=30.0, device="cpu", dask=None)
    assert suite_env(args) == {"DLGRADE_CNN_BUDGET": "30.0", "DLGRADE_DEVICE": "cpu"}
    assert suite_env(Namespace(cnn_budget=None, device=None)) == {}
    monkeypatch.setattr(cnn_sandbox, "nvidia_devices", lambda dev="/dev": [])
    with pytest.raises(ValueError, match="--device gpu was requested"):
        check_cnn_options(Namespace(cnn_budget=None, device="gpu", dask=None), ["conv", "cnn"])
    check_cnn_options(Namespace(cnn_budget=None, device="gpu", dask=None), ["conv"])  # no CNN: no GPU needed
    with pytest.raises(ValueError, match="--cnn-budget"):
        check_cnn_options(Namespace(cnn_budget=0.0, device=None, dask=None), ["cnn"])


def test_submission_timeout_makes_room_for_the_cnn_budget():
    course = parse({"limits": {"submission_timeout_s": 900.0}, "cnn": {"budget_cpu_s": 300.0, "budget_gpu_s": 60.0}})
    assert submission_timeout(Namespace(cnn_budget=None), course, ["conv"]) == 900.0
    assert submission_timeout(Namespace(cnn_budget=None), course, ["cnn"]) == 2 * 300.0 + 600.0
    assert submission_timeout(Namespace(cnn_budget=1000.0), course, ["conv", "cnn"]) == 2600.0


def test_dlgrade_grade_device_gpu_without_gpu_exits_2(tmp_path):
    if cnn_sandbox.nvidia_devices():
        pytest.skip("this machine has NVIDIA device files")
    (tmp_path / "subs" / "ana").mkdir(parents=True)
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path / "subs"), "--out",
                           str(tmp_path / "out"), "--only", "cnn", "--device", "gpu"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "--device gpu was requested, but this machine has no NVIDIA GPU" in done.stderr
    assert not (tmp_path / "out" / "results").exists()


def test_cnn_worker_limits_are_its_own():
    cnn = parse({"cnn": {"memory_mb": 0, "max_processes": 300, "max_params": 1000}}).cnn
    lim = cnn_sandbox.worker_limits(cnn, budget_s=50.0)
    assert lim.address_space is None and lim.processes == 300 and lim.cpu_seconds is None
    assert lim.timeout == 50.0 + cnn_sandbox.grace_seconds(50.0) + cnn_sandbox.CALL_MARGIN_S
    env = S.worker_env("/tmp", cnn_sandbox._threads_env("jax"))
    assert "OMP_NUM_THREADS" not in env and env["KERAS_BACKEND"] == "jax"
    # The numpy exercises' worker keeps its defaults.
    assert S.Limits().address_space == 2 * S.GiB and S.Limits().processes == 64
    assert S.worker_env("/tmp")["OMP_NUM_THREADS"] == "1" and "KERAS_BACKEND" not in S.worker_env("/tmp")


def test_bwrap_args_bind_the_output_dir_and_devices_only_when_asked():
    common = dict(runtime="/r", submission="/s", python_dirs=[], hidden=[], empty_dir="/e", env={},
                  limits=S.Limits(), privileged=False, uid=65534, gid=65534, info_fd=9)
    plain = " ".join(S.bwrap_args(**common))
    assert "--bind " not in plain and "--dev-bind" not in plain and S.SANDBOX_OUTPUT not in plain
    args = " ".join(S.bwrap_args(**common, output_dir="/stage/out", devices=["/dev/nvidia0", "/dev/nvidiactl"]))
    assert f"--bind /stage/out {S.SANDBOX_OUTPUT}" in args
    assert "--dev-bind /dev/nvidia0 /dev/nvidia0" in args and "--dev-bind /dev/nvidiactl /dev/nvidiactl" in args
    assert args.index("--dev /dev") < args.index("--dev-bind /dev/nvidia0")  # after the minimal /dev
    with pytest.raises(ValueError):
        S.bwrap_args(**common, devices=["/etc/passwd"])


# --- graded in the sandbox --------------------------------------------------------------

LAMBDA_AND_PROBE = '''
import os

import keras
from keras import layers

OUTPUT_LOGITS = True
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def build_model(input_shape=(28, 28, 1), num_classes=10):
    return keras.Sequential([keras.Input(shape=input_shape), layers.Lambda(lambda t: t * 2.0),
                             layers.Conv2D(8, 3, activation="relu"), layers.MaxPooling2D(2),
                             layers.Flatten(), layers.Dense(num_classes)])


def look_for_the_test_split():
    """The test split by every route: known places, a walk over what is visible, Keras' downloader."""
    found = []
    for place in ("/usr/share/datasets/fashion-mnist", os.path.expanduser("~/.keras/datasets/fashion-mnist")):
        for name in TEST_FILES:
            try:
                with open(os.path.join(place, name), "rb") as f:
                    f.read(16)
                found.append(name)
            except OSError:
                pass
    for top in ("/usr/share", "/tmp", "/out", "/submission", os.path.expanduser("~")):
        for root, dirs, files in os.walk(top):
            # The test split's files by name (Keras' own fashion_mnist.py modules are visible
            # wherever the venv is, e.g. under /tmp in a CI clone: they are code, not data).
            found += [f for f in files if f.startswith("t10k") or (f.endswith((".gz", ".npz", ".npy")) and "fashion" in f.lower())]
    try:
        keras.datasets.fashion_mnist.load_data()
        loaded = 1.0
    except Exception:
        loaded = 0.0
    return found, loaded


def train(model, x_train, y_train, x_val, y_val, callbacks=None):
    found, loaded = look_for_the_test_split()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x_train[:512], y_train[:512], epochs=1, batch_size=128, callbacks=callbacks, verbose=0)
    history.history["test_files_found"] = [float(len(found))]
    history.history["keras_load_data_worked"] = [loaded]
    return history
'''

OVER_CAP = '''
import keras
from keras import layers

OUTPUT_LOGITS = True


def build_model(input_shape=(28, 28, 1), num_classes=10):
    # 26*26*8 = 5408 features into Dense(512): 2,774,618 parameters in all.
    return keras.Sequential([keras.Input(shape=input_shape), layers.Conv2D(8, 3, activation="relu"),
                             layers.MaxPooling2D(1), layers.Flatten(), layers.Dense(512, activation="relu"),
                             layers.Dense(num_classes)])


def train(model, x_train, y_train, x_val, y_val, callbacks=None):
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model.fit(x_train[:256], y_train[:256], epochs=1, batch_size=128, callbacks=callbacks, verbose=0)
'''

NEVER_ENDS = '''
import keras
from keras import layers

OUTPUT_LOGITS = True


def build_model(input_shape=(28, 28, 1), num_classes=10):
    return keras.Sequential([keras.Input(shape=input_shape), layers.Conv2D(16, 3, activation="relu"),
                             layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(num_classes)])


def train(model, x_train, y_train, x_val, y_val):
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    while True:
        model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)
'''

HOLDS_THE_GIL = '''
import re

import keras
from keras import layers

OUTPUT_LOGITS = True


def build_model(input_shape=(28, 28, 1), num_classes=10):
    return keras.Sequential([keras.Input(shape=input_shape), layers.Conv2D(4, 3, activation="relu"),
                             layers.MaxPooling2D(2), layers.Flatten(), layers.Dense(num_classes)])


def train(model, x_train, y_train, x_val, y_val, callbacks=None):
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train[:256], y_train[:256], epochs=1, batch_size=128, callbacks=callbacks, verbose=0)
    re.match(r"(a+)+$", "a" * 64 + "b")  # exponential backtracking in C, never releasing the GIL
'''


@pytest.fixture(scope="module")
def course_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("course") / "course.toml"
    path.write_text(COURSE)
    return path


def _submission(tmp_path_factory, name: str, text: str) -> Path:
    folder = tmp_path_factory.mktemp(name)
    (folder / "cnn.py").write_text(textwrap.dedent(text))
    return folder


def _grade_hidden(submission: Path, course: Path, env: dict | None = None) -> dict:
    """The hidden CNN suite alone (the public one is tested on its own), as `dlgrade grade` runs it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner, "suite_files", lambda exercises, hidden: [HIDDEN])
        data = runner.run_suites(submission, ["cnn"], hidden=True, course=course, env=env)
    return {t["extra_data"]["test_id"].rsplit("::", 1)[-1]: t for t in data["tests"]}


def _report(tests: dict) -> dict:
    return tests["test_model_loads_safely"]["extra_data"]["data"]["cnn"]


@pytest.fixture(scope="module")
def solution_graded(tmp_path_factory, course_file):
    sub = tmp_path_factory.mktemp("solution")
    shutil.copy2(SOLUTION, sub / "cnn.py")
    return _grade_hidden(sub, course_file)


@needs_grading
def test_solution_scores_above_a_low_threshold_on_the_subset(solution_graded):
    tests = solution_graded
    assert not [t["name"] for t in tests.values() if t["extra_data"]["grader_error"]]
    for name in ("test_model_loads_safely", "test_accuracy_at_least[0.775]"):
        assert tests[name]["status"] == "passed", (name, tests[name]["extra_data"]["details"])
    # What the public suite checked on the built model (layers, parameter cap) is not graded again.
    assert not {"test_parameter_count", "test_has_conv_and_pooling"} & set(tests)
    report = _report(tests)
    # 2700 images for 20 s reach ~0.8 here; 0.5 leaves room for a slow machine but not for a broken pipeline.
    assert report["accuracy"] > 0.5, report
    assert report["graded_file"] == "model.keras" and report["finished"] is True


@needs_grading
def test_results_json_holds_the_report_data(solution_graded):
    report = _report(solution_graded)
    assert report["class_names"][0] == "T-shirt/top" and set(report["per_class_accuracy"]) == set(report["class_names"])
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == report["test_images"] == 1000
    assert np.trace(matrix) / matrix.sum() == pytest.approx(report["accuracy"], abs=1e-12)  # same predictions
    history = report["history"]
    assert len(history["loss"]) == report["epochs"] >= 1 and all(np.isfinite(history["loss"]))
    assert "val_accuracy" in history
    assert report["seconds"] <= report["budget_s"] + cnn_sandbox.grace_seconds(report["budget_s"])
    assert report["device"].startswith("CPU") and report["backend"] == "tensorflow"
    assert 0 < report["params"] <= report["max_params"]
    assert "Conv2D" in report["layers"]


@needs_grading
def test_public_suite_passes_on_the_solution(tmp_path_factory, course_file):
    sub = tmp_path_factory.mktemp("public")
    shutil.copy2(SOLUTION, sub / "cnn.py")
    data = runner.run_suites(sub, ["cnn"], hidden=False, course=course_file)
    failed = [(t["name"], t["extra_data"]["details"][:300]) for t in data["tests"] if t["status"] != "passed"]
    assert len(data["tests"]) == 7 and not failed, failed


@needs_grading
def test_lambda_model_is_refused_and_the_test_split_is_out_of_reach(tmp_path_factory, course_file):
    sub = _submission(tmp_path_factory, "lambda", LAMBDA_AND_PROBE)
    tests = _grade_hidden(sub, course_file, env={"DLGRADE_CNN_BUDGET": "10"})
    load = tests["test_model_loads_safely"]
    assert load["status"] == "failed" and load["score"] == 0
    assert "your model uses a Lambda layer, which the grader cannot load safely; use built-in Keras layers" \
        in load["extra_data"]["details"]
    for name, t in tests.items():
        assert not t["extra_data"]["grader_error"], name
        if name.startswith("test_accuracy"):
            assert t["status"] == "failed" and "Lambda layer" in t["extra_data"]["details"], name
    history = _report(tests)["history"]
    # What the student's train found while it ran in the sandbox: no test file, no download.
    assert history["test_files_found"] == [0.0] and history["keras_load_data_worked"] == [0.0]
    # `dlgrade check cnn` says so first, where the student sees the message.
    public = runner.run_suites(sub, ["cnn"], hidden=False, course=course_file)["tests"]
    builtin = [t for t in public if "built-in Keras layers" in t["name"]]
    assert len(builtin) == 1 and builtin[0]["status"] == "failed"
    assert "your model uses a Lambda layer, which the grader cannot load safely" in builtin[0]["output"]


@needs_grading
def test_over_cap_model_is_refused_naming_count_and_cap(tmp_path_factory, course_file):
    tests = _grade_hidden(_submission(tmp_path_factory, "big", OVER_CAP), course_file, env={"DLGRADE_CNN_BUDGET": "10"})
    over = "your model has 2,774,618 parameters, over the course's cap of 1,000,000"
    assert tests["test_model_loads_safely"]["status"] == "passed"  # built-in layers only
    accuracy = [t for n, t in tests.items() if n.startswith("test_accuracy")]
    assert accuracy and all(t["status"] == "failed" and over in t["extra_data"]["details"] for t in accuracy)
    assert not any(t["extra_data"]["grader_error"] for t in tests.values())


@needs_grading
def test_train_that_never_ends_is_graded_on_its_state_at_the_budget(tmp_path_factory, course_file):
    tests = _grade_hidden(_submission(tmp_path_factory, "forever", NEVER_ENDS), course_file,
                          env={"DLGRADE_CNN_BUDGET": "10"})
    report = _report(tests)
    assert report["finished"] is False and report["graded_file"] == "checkpoint.keras"
    assert report["seconds"] == 10.0 and report["stopped_by_budget"] is True
    # 10 s of Adam on 2700 images: well above chance (0.1) here; graded on what it learned.
    assert report["accuracy"] > 0.5, report
    assert tests["test_accuracy_at_least[0.775]"]["status"] == "passed" or report["accuracy"] < 0.775
    assert tests["test_model_loads_safely"]["status"] == "passed"
    for name in ("test_train_returns_history", "test_train_ends_within_budget"):
        assert tests[name]["status"] == "failed", name
    assert "did not return" in tests["test_train_returns_history"]["extra_data"]["details"]


@needs_grading
def test_train_holding_the_gil_is_killed_and_graded_on_its_checkpoint(tmp_path_factory, monkeypatch):
    """The driver cannot even answer: the worker's wall-clock limit kills the sandbox."""
    monkeypatch.setattr(cnn_sandbox, "CALL_MARGIN_S", 20.0)  # the call's limit: 5 + 10.5 + 20 s
    sub = _submission(tmp_path_factory, "gil", HOLDS_THE_GIL)
    cnn = parse({"cnn": {"train_limit": 600, "test_limit": 10}}).cnn
    splits = cnn_grading.load_splits(cnn)
    run = cnn_grading.train_in_sandbox(sub, cnn, splits, tmp_path_factory.mktemp("gil-work"), budget_s=5.0,
                                       plan=cnn_sandbox.plan_device("cpu"))
    assert run.failure_kind == "timeout" and "train did not return within 35.5 s" in run.failure
    assert run.source == "checkpoint.keras" and run.model_file.is_file()
    config = cnn_grading.check_archive(run.model_file, cnn.max_params)
    assert "Conv2D" in cnn_grading.config_layers(config)


@needs_grading
def test_missing_cnn_py_fails_every_test_as_not_submitted(tmp_path, course_file):
    (tmp_path / "conv.py").write_text("")
    tests = _grade_hidden(tmp_path, course_file)
    assert tests and all(t["status"] == "failed" and not t["extra_data"]["grader_error"] for t in tests.values())
    assert all("cnn.py was not submitted" in t["extra_data"]["details"] for t in tests.values())


@needs_grading
def test_gpu_files_that_no_backend_can_use(monkeypatch):
    """A device file that is no GPU: 'gpu' is a clear error, 'auto' falls back to the CPU and says why."""
    probe = cnn_sandbox.probe_gpu(["/dev/zero"])
    assert probe["backend"] is None and "tensorflow" in probe["tried"], probe
    monkeypatch.setattr(cnn_sandbox, "probe_gpu", lambda devices, **kw: probe)
    with pytest.raises(cnn_sandbox.DeviceError, match="no Keras backend can train on a GPU"):
        cnn_sandbox.plan_device("gpu", devices=["/dev/zero"])
    plan = cnn_sandbox.plan_device("auto", devices=["/dev/zero"])
    assert not plan.gpu and plan.devices == () and "no Keras backend can train on a GPU" in plan.note


@needs_grading
def test_notebook_submission_grades_like_the_py(tmp_path_factory, course_file, solution_graded):
    """The lab notebook, submitted alone, is graded through its code cells exactly as cnn.py is."""
    from autograder.grading import submissions

    entries = tmp_path_factory.mktemp("class")
    shutil.copy2(ROOT / "solutions" / "cnn_fashion_mnist.ipynb", entries / "nora.ipynb")
    prepared = submissions.prepare(submissions.find_entries(entries)["nora"], tmp_path_factory.mktemp("work"))
    assert (prepared.folder / "cnn.py").is_file() and "as cnn.py" in " ".join(prepared.notes)
    tests = _grade_hidden(prepared.folder, course_file)
    assert set(tests) == set(solution_graded)
    assert not [t["name"] for t in tests.values() if t["extra_data"]["grader_error"]]
    for name in ("test_model_loads_safely", "test_accuracy_at_least[0.775]"):
        assert tests[name]["status"] == solution_graded[name]["status"] == "passed", (name, tests[name]["extra_data"]["details"])
    # The same model answer in both forms: the same architecture, so the same parameter count.
    assert _report(tests)["params"] == _report(solution_graded)["params"]


def test_a_missing_keras_or_backend_stops_the_run_instead_of_scoring_zero(tmp_path, monkeypatch):
    """No Keras (or no backend) where the grader runs is the grader's problem: plan_device says so, and
    `dlgrade grade` stops before grading anyone (exit 2), instead of failing every student's CNN."""
    import importlib.util
    from argparse import Namespace as NS

    from autograder.grading.grade import device_env

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "keras" else real(name, *a))
    with pytest.raises(cnn_sandbox.DeviceError, match=r"Keras is not installed here.*--skip cnn"):
        cnn_sandbox.plan_device("cpu")
    with pytest.raises(cnn_sandbox.DeviceError, match="Keras is not installed"):
        device_env(NS(device=None, dask=None), ["activations", "cnn"], "none")
    assert device_env(NS(device=None, dask=None), ["activations"], "none") == {}  # no CNN: nothing to plan
    monkeypatch.setattr(importlib.util, "find_spec", real)
    monkeypatch.setenv("KERAS_BACKEND", "no_such_backend_xyz")
    with pytest.raises(cnn_sandbox.DeviceError, match="no Keras backend"):
        cnn_sandbox.plan_device("auto", devices=[])
