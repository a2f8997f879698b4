"""The typed course configuration (`course.toml`): every key, its type, default and description."""
from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EXERCISES = ("activations", "perceptron", "losses", "backprop", "optim", "regularization", "conv", "augment", "tuning",
             "cnn", "transfer")
# Exercises graded by training a Keras model (sandboxed training worker, trusted evaluator, never reused).
KERAS_EXERCISES = ("cnn", "transfer")
NUMPY_EXERCISES = tuple(e for e in EXERCISES if e not in KERAS_EXERCISES)


class ConfigError(ValueError):
    """A bad configuration value; the message names where it came from and what is allowed."""


def _key(description: str, default: Any, **kw: Any) -> Any:
    if isinstance(default, type) or default is dict:
        return field(default_factory=default, metadata={"description": description, **kw})
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"description": description, "example": default, **kw})
    return field(default=default, metadata={"description": description, **kw})


@dataclass(frozen=True)
class Tolerances:
    """How close a student's numbers must be to the reference's."""

    rtol: float = _key("relative tolerance for values compared with the reference (float64 throughout)", 1e-6)
    atol: float = _key("absolute tolerance for values compared with the reference", 1e-9)
    grad_rel_error: float = _key(
        "largest relative error allowed between an analytic and a central-difference gradient", 1e-5
    )


@dataclass(frozen=True)
class Limits:
    """What one student's worker process may use."""

    memory_mb: int = _key("address-space limit of the worker, MiB", 2048)
    cpu_seconds: int = _key("CPU-time limit of one worker process, seconds", 120)
    call_timeout_s: float = _key("wall-clock limit of one call into student code, seconds", 10.0)
    test_timeout_s: float = _key("wall-clock time student code may use within one test, all calls together, seconds", 30.0)
    check_call_cpu_s: float = _key("CPU time one call may use in `dlgrade check` (the public checks' inputs are tiny), "
                                   "seconds: a busy loop is stopped then, whatever the machine's load; 0: no such stop",
                                   2.0)
    submission_timeout_s: float = _key("wall-clock limit for grading one submission, seconds", 900.0)
    max_processes: int = _key("process limit of the worker (RLIMIT_NPROC)", 64)
    max_file_mb: int = _key("largest file the worker may write, MiB", 64)
    output_kb: int = _key("captured stdout/stderr kept per call, KiB", 64)


@dataclass(frozen=True)
class Grading:
    """How the suites run."""

    max_examples: int = _key("hypothesis examples per property test", 25)
    mlp_min_accuracy: float = _key("held-out accuracy train_mlp must reach on the grader's dataset", 0.85)
    late_policy: str = _key("late policy: 'none', 'per_day' or 'cutoff'", "none", choices=("none", "per_day", "cutoff"))
    late_percent_per_day: float = _key("percentage of the total removed per late day ('per_day')", 10.0)
    deadline: str = _key("deadline as ISO 8601 (e.g. 2026-12-01T23:59:00+00:00); empty: no lateness", "")
    cutoff_days: float = _key("days after the deadline past which a submission scores 0 ('cutoff')", 0.0)


@dataclass(frozen=True)
class Cnn:
    """The Fashion-MNIST CNN task: training budget, caps and accuracy thresholds."""

    budget_cpu_s: float = _key("training time the student's `train` gets on a CPU-only machine, seconds", 300.0)
    budget_gpu_s: float = _key("training time the student's `train` gets when a GPU is used, seconds", 120.0)
    train_limit: int = _key("use only the first N training images (0: all 60000; tests use a few thousand)", 0)
    test_limit: int = _key("evaluate on the first N test images (0: all 10000)", 0)
    max_params: int = _key("largest number of trainable + non-trainable parameters accepted", 1_000_000)
    memory_mb: int = _key("address-space limit of the training worker, MiB (0: none; TensorFlow reserves a lot)", 0)
    max_processes: int = _key("process/thread limit of the training worker (TensorFlow starts many threads)", 512)
    accuracy_thresholds: list = _key(
        "test accuracies at which the accuracy test earns 0, ..., full credit in equal steps; linear in between",
        [0.70, 0.85, 0.91],
    )


@dataclass(frozen=True)
class Transfer:
    """The transfer-learning task: a base CNN trained on classes 0-4 reused for classes 5-9 from a few images."""

    budget_cpu_s: float = _key("time the student's build_transfer_model + fine_tune get on a CPU-only machine, seconds",
                               90.0)
    budget_gpu_s: float = _key("time the student's build_transfer_model + fine_tune get when a GPU is used, seconds",
                               60.0)
    images_per_class: int = _key("labelled training images per target class (5-9) given to fine_tune", 5)
    val_per_class: int = _key("validation images per target class given to fine_tune", 50)
    test_limit: int = _key("score on the target classes among the first N test images (0: all 10000, 5000 of 5-9)", 0)
    max_params: int = _key("largest number of parameters accepted in the student's model", 500_000)
    memory_mb: int = _key("address-space limit of the training worker, MiB (0: none; TensorFlow reserves a lot)", 0)
    max_processes: int = _key("process/thread limit of the training worker (TensorFlow starts many threads)", 512)
    accuracy_thresholds: list = _key(
        "test accuracies on classes 5-9 at which the accuracy test earns 0, ..., full credit in equal steps",
        [0.50, 0.70, 0.75],
    )
    min_margin: float = _key("test accuracy the transfer model must have above the same architecture trained "
                             "from scratch by the grader on the same images", 0.03)
    scratch_epochs: int = _key("epochs of the grader's from-scratch run (Adam 1e-3, best validation epoch kept)", 40)
    max_base_drift: float = _key("largest relative change ||W - W_base|| / ||W_base|| of a fine-tuned base layer's "
                                 "kernel (a larger one destroyed the pretrained features)", 0.25)
    max_loss_ratio: float = _key("test cross-entropy over validation cross-entropy beyond which the model was "
                                 "trained on the validation images (held out, both are alike)", 3.0)


VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class Gradescope:
    """The Gradescope autograder bundle (`dlgrade gradescope`) and how its results are shown."""

    public_visibility: str = _key("when students see the public tests' results: " + " | ".join(VISIBILITIES),
                                  "visible", choices=VISIBILITIES)
    hidden_visibility: str = _key("when students see the hidden tests' results (names, scores; never their details)",
                                  "after_due_date", choices=VISIBILITIES)
    visibility: str = _key("when students see the whole result (the total score and the summary)",
                           "visible", choices=VISIBILITIES)
    stdout_visibility: str = _key("when students see the grader's log (run_autograder's output)", "hidden",
                                  choices=VISIBILITIES)
    sandbox: str = _key("how student code runs: bwrap (refuse without bubblewrap), auto (bubblewrap if it works in "
                        "the container, else a plain process as an unprivileged uid) or none (always the latter)",
                        "auto", choices=("bwrap", "auto", "none"))
    with_cnn: bool = _key("also grade the Keras exercises (the CNN, transfer learning): installs the `tf` extra "
                          "(large) and needs bubblewrap", False)


@dataclass(frozen=True)
class Exercise:
    """One exercise's points and per-test weights."""

    points: float = _key("points for the whole exercise, shared among its tests by weight", 10.0)
    weights: dict = _key("per-test weight overrides, test function name -> weight", dict)


@dataclass(frozen=True)
class Course:
    """The whole of course.toml."""

    name: str = _key("course name shown in reports", "Intro to Deep Learning")
    tolerances: Tolerances = _key("numerical tolerances", Tolerances)
    limits: Limits = _key("sandbox limits", Limits)
    grading: Grading = _key("grading settings", Grading)
    cnn: Cnn = _key("the CNN task", Cnn)
    transfer: Transfer = _key("the transfer-learning task", Transfer)
    gradescope: Gradescope = _key("the Gradescope autograder bundle", Gradescope)
    exercises: dict = _key("exercise name -> Exercise", dict)

    def exercise(self, name: str) -> Exercise:
        return self.exercises.get(name, Exercise())

    def weight(self, exercise: str, test: str, marker_weight: float) -> float:
        """The weight of a test: course.toml's override, else the test's marker, else 1."""
        return float(self.exercise(exercise).weights.get(test, marker_weight))


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(known)}")
    values = {}
    for name, f in known.items():
        if name not in data:
            continue
        values[name] = _coerce(f, data[name], f"{where}.{name}")
    return cls(**values)


def _coerce(f: dataclasses.Field, value: Any, where: str) -> Any:
    default = f.metadata.get("example", f.default)
    choices = f.metadata.get("choices")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} = {value!r}: expected true or false ({f.metadata['description']})")
    if isinstance(default, float) and number or isinstance(default, int) and isinstance(value, int) and number:
        if value < 0:
            raise ConfigError(f"{where} = {value!r}: must not be negative ({f.metadata['description']})")
        return type(default)(value)
    if isinstance(default, list):
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{where} = {value!r}: expected a list of numbers ({f.metadata['description']})")
        if value != sorted(value) or len(value) < 2:
            raise ConfigError(f"{where} = {value!r}: expected at least two numbers in increasing order")
        return [float(v) for v in value]
    if isinstance(default, str) and isinstance(value, str):
        if choices and value not in choices:
            raise ConfigError(f"{where} = {value!r}: must be one of {', '.join(choices)}")
        return value
    raise ConfigError(
        f"{where} = {value!r}: expected {type(default).__name__} ({f.metadata['description']})"
    )


def parse(data: dict, where: str = "course.toml") -> Course:
    """Build a Course from parsed TOML, raising ConfigError that names the bad key."""
    data = dict(data)
    sections = {
        "tolerances": Tolerances,
        "limits": Limits,
        "grading": Grading,
        "cnn": Cnn,
        "transfer": Transfer,
        "gradescope": Gradescope,
    }
    built: dict[str, Any] = {k: _build(cls, data.pop(k, {}), f"{where}: [{k}]") for k, cls in sections.items()}
    exercises = {}
    for name, table in data.pop("exercises", {}).items():
        if name not in EXERCISES:
            raise ConfigError(f"{where}: [exercises.{name}]: unknown exercise; known: {', '.join(EXERCISES)}")
        table = dict(table)
        weights = table.pop("weights", {})
        ex = _build(Exercise, table, f"{where}: [exercises.{name}]")
        for test, w in weights.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
                raise ConfigError(f"{where}: [exercises.{name}.weights] {test} = {w!r}: expected a number >= 0")
        exercises[name] = dataclasses.replace(ex, weights=dict(weights))
    name = data.pop("name", Course.name)
    if data:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(data))}")
    return Course(name=name, exercises=exercises, **built)


def default_path() -> Path:
    """course.toml: $DLGRADE_COURSE, else the one beside the autograder package."""
    env = os.environ.get("DLGRADE_COURSE")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "course.toml"


def load(path: str | os.PathLike | None = None) -> Course:
    """Read and validate course.toml (CLI path, else $DLGRADE_COURSE, else the project's)."""
    where = Path(path) if path else default_path()
    try:
        text = where.read_text()
    except FileNotFoundError:
        if path is None and not os.environ.get("DLGRADE_COURSE"):
            return parse({})
        raise ConfigError(f"{where}: no such file (set with --course or $DLGRADE_COURSE)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from None
    return parse(data, str(where))


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    raise ConfigError(f"{where}: a {type(value).__name__} cannot be written to course.toml")


def dumps(data: dict, prefix: str = "") -> str:
    """TOML text of plain course data (tables, strings, numbers, booleans, lists): `tomllib.loads` reads it back."""
    lines = [f"{k} = {_toml_value(v, prefix + k)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines += ["", f"[{prefix}{k}]", dumps(v, f"{prefix}{k}.").rstrip("\n")]
    return "\n".join(line for line in lines).strip("\n") + "\n"
