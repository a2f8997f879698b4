"""The CNN task's sandboxed worker: its limits from course.toml's [cnn], the device, the driver calls.

Student code for the CNN runs only in this worker, through ``cnn_driver.py`` (shipped into the
sandbox beside ``worker.py``). Compared with the numpy exercises' worker it may use many threads
and (by default) unlimited address space, its thread count is not forced to 1, it has a
writable output directory at /out for the model file, and with a GPU the NVIDIA device files.
Those permissions are this worker's only; the numpy exercises' defaults do not change.

No reference code here: the public suite (``dlgrade check cnn``) uses this module too.
Settings resolve CLI -> environment ($DLGRADE_CNN_BUDGET, $DLGRADE_DEVICE) -> course.toml.
"""
from __future__ import annotations

import dataclasses
import glob
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass

from autograder.course import config as course_config
from autograder.sandbox.client import KiB, MiB, Limits, Worker

DRIVER = "cnn_driver"
ENV_BUDGET = "DLGRADE_CNN_BUDGET"
ENV_DEVICE = "DLGRADE_DEVICE"
# A DevicePlan resolved once for a whole run (`dlgrade grade` probes before grading anyone), as
# JSON: the grading processes use it instead of probing the GPU again for every student.
ENV_PLAN = "DLGRADE_DEVICE_PLAN"
DEVICES = ("auto", "cpu", "gpu")
BACKENDS = ("tensorflow", "jax", "torch")  # the order a GPU is looked for, and a CPU backend chosen
# Beyond the budget: building the model, converting the data, the grace period's end, saving.
CALL_MARGIN_S = 90.0
PROBE_TIMEOUT_S = 180.0  # importing the GPU backends in the probe sandbox


class DeviceError(RuntimeError):
    """The requested device cannot be used here; the message says why and what to do."""


# Start-up lines of TensorFlow/XLA/absl (they ignore TF_CPP_MIN_LOG_LEVEL in recent versions) and of
# libraries probing /etc: not the student's output.
_NOISE = ("WARNING: All log messages before absl::InitializeLog()", "Fontconfig error")


def without_backend_noise(text: str) -> str:
    """Captured output minus the backends' start-up log lines (I0000/W0000/E0000 ... and the like)."""
    keep = [line for line in text.splitlines()
            if not line.startswith(_NOISE) and not (len(line) > 6 and line[0] in "IWE" and line[1:5].isdigit()
                                                    and line[5] == " ")]
    return "\n".join(keep)


def grace_seconds(budget_s: float) -> float:
    """How long past the budget a `train` may take to stop (finish its batch, validate, restore)."""
    return 10.0 + 0.1 * budget_s


def requested_device(env=None) -> str:
    """$DLGRADE_DEVICE (auto, cpu or gpu; default auto)."""
    value = (env if env is not None else os.environ).get(ENV_DEVICE, "auto") or "auto"
    if value not in DEVICES:
        raise DeviceError(f"{ENV_DEVICE}={value!r}: the device must be one of {', '.join(DEVICES)}")
    return value


def budget_override(env=None) -> float | None:
    """$DLGRADE_CNN_BUDGET in seconds (the CLI's --cnn-budget), or None."""
    value = (env if env is not None else os.environ).get(ENV_BUDGET, "")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 1e6:
        raise course_config.ConfigError(f"{ENV_BUDGET}={value!r}: expected a number of seconds > 0")
    return seconds


def nvidia_devices(dev: str = "/dev") -> list[str]:
    """The NVIDIA device files (/dev/nvidia0, /dev/nvidiactl, /dev/nvidia-uvm, ...) present here."""
    return sorted(glob.glob(os.path.join(dev, "nvidia*")))


def cpu_backend() -> str | None:
    """$KERAS_BACKEND if set, else the first of BACKENDS installed (found without importing it)."""
    chosen = os.environ.get("KERAS_BACKEND")
    if chosen:
        return chosen
    for name in BACKENDS:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def keras_problem() -> str:
    """Why the CNN cannot train here (no Keras, no backend), '' when it can; found without importing them."""
    if importlib.util.find_spec("keras") is None:
        return ("Keras is not installed here, so no Keras model (the CNN, transfer) can be trained: install Keras and a backend "
                "(pip install keras tensorflow; for the grader: pip install 'dlgrade[tf]'), "
                "or leave the Keras exercises out (dlgrade grade --skip cnn,transfer)")
    backend = cpu_backend()
    if backend is None or importlib.util.find_spec(backend) is None:
        return (f"no Keras backend ({backend or ', '.join(BACKENDS)}) is installed here, so no Keras model (the CNN, transfer) can be trained: "
                "install one (pip install tensorflow; for the grader: pip install 'dlgrade[tf]'), "
                "or leave the Keras exercises out (dlgrade grade --skip cnn,transfer)")
    return ""


@dataclass(frozen=True)
class DevicePlan:
    """What the training worker gets: device files to bind, the Keras backend, the budget's kind."""

    gpu: bool
    backend: str | None
    devices: tuple[str, ...] = ()
    description: str = "CPU"
    note: str = ""  # why a GPU that was there is not used

    def budget(self, cnn: course_config.Cnn, override: float | None = None) -> float:
        """The training budget in seconds: the override (--cnn-budget), else course.toml's."""
        if override is not None:
            return override
        return cnn.budget_gpu_s if self.gpu else cnn.budget_cpu_s

    def to_env(self) -> str:
        """This plan as the value of $DLGRADE_DEVICE_PLAN."""
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls, env=None) -> DevicePlan | None:
        """The plan in $DLGRADE_DEVICE_PLAN, or None; DeviceError for one that does not read."""
        value = (env if env is not None else os.environ).get(ENV_PLAN, "")
        if not value:
            return None
        try:
            data = json.loads(value)
            plan = cls(gpu=bool(data["gpu"]), backend=data["backend"], devices=tuple(data["devices"]),
                       description=str(data["description"]), note=str(data["note"]))
        except (ValueError, KeyError, TypeError) as e:
            raise DeviceError(f"{ENV_PLAN} is not a device plan ({type(e).__name__}: {e})") from None
        if plan.backend is not None and plan.backend not in BACKENDS:
            raise DeviceError(f"{ENV_PLAN} names an unknown backend {plan.backend!r}")
        return plan


def plan_device(requested: str, *, sandbox: str = "auto", uid: int | None = None,
                devices: list[str] | None = None) -> DevicePlan:
    """Choose CPU or GPU for `requested` ('auto', 'cpu', 'gpu'); DeviceError if a GPU cannot be had.

    With NVIDIA device files present, a sandbox that runs no student code asks TensorFlow, then
    JAX, then PyTorch whether they see the GPU; the first that does is the backend.
    """
    if requested not in DEVICES:
        raise DeviceError(f"the device must be one of {', '.join(DEVICES)}, not {requested!r}")
    resolved = DevicePlan.from_env()
    if resolved is not None:
        return resolved
    missing = keras_problem()
    if missing:
        raise DeviceError(missing)
    cpu = DevicePlan(gpu=False, backend=cpu_backend(), description="CPU")
    if requested == "cpu":
        return cpu
    found = nvidia_devices() if devices is None else list(devices)
    if not found:
        if requested == "gpu":
            raise DeviceError("--device gpu was requested, but this machine has no NVIDIA GPU (no "
                              "/dev/nvidia* device files); grade with --device cpu or --device auto")
        return cpu
    probe = probe_gpu(found, sandbox=sandbox, uid=uid)
    if probe.get("backend"):
        return DevicePlan(gpu=True, backend=probe["backend"], devices=tuple(found),
                          description=str(probe.get("device") or "GPU"))
    tried = "; ".join(f"{k}: {v}" for k, v in (probe.get("tried") or {}).items()) or probe.get("error", "")
    why = f"NVIDIA device files are present but no Keras backend can train on a GPU in the sandbox ({tried})"
    if requested == "gpu":
        raise DeviceError(f"--device gpu was requested, but {why}; install TensorFlow with CUDA "
                          "(pip install 'tensorflow[and-cuda]'), JAX with CUDA or PyTorch with CUDA, "
                          "or grade with --device cpu")
    return DevicePlan(gpu=False, backend=cpu.backend, description="CPU", note=why)


def probe_order() -> list[str]:
    """The backends the GPU probe tries: $KERAS_BACKEND first when set, then BACKENDS."""
    chosen = os.environ.get("KERAS_BACKEND")
    return [chosen, *(b for b in BACKENDS if b != chosen)] if chosen in BACKENDS else list(BACKENDS)


def probe_gpu(devices: list[str], *, sandbox: str = "auto", uid: int | None = None) -> dict:
    """cnn_driver.gpu_backends(): one training step on the GPU, in the training worker's sandbox
    (the device files, the same mounts and environment), with no student code."""
    limits = Limits(address_space=None, cpu_seconds=None, processes=1024, timeout=PROBE_TIMEOUT_S,
                    start_timeout=60.0)
    with tempfile.TemporaryDirectory(prefix="dlgrade-gpu-probe-") as empty:
        with Worker(empty, limits, sandbox, uid=_uid(uid), drivers=(DRIVER + ".py",),
                    env=_threads_env(None, gpu=True), devices=tuple(devices)) as worker:
            result = worker.call_driver(DRIVER, "gpu_backends", None, probe_order())
    if not result.ok or not isinstance(result.value, dict):
        return {"backend": None, "error": result.message or "the probe returned nothing"}
    value = result.value
    backend = value.get("backend")
    device = value.get("device")
    return {"backend": backend if backend in BACKENDS else None, "device": str(device)[:200] if device else None,
            "tried": {str(k): str(v)[:300] for k, v in (value.get("tried") or {}).items()}}


# On a GPU each training worker takes the device memory it needs, not the whole card (JAX
# preallocates 75 % of it, TensorFlow all of it): so `--jobs N` trainings share one GPU.
# PyTorch's caching allocator grows on demand already.
GPU_SHARING_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}


def _threads_env(backend: str | None, gpu: bool = False) -> dict[str, str | None]:
    """The CNN worker's environment changes: no thread caps, quiet TensorFlow, the backend, GPU sharing."""
    env: dict[str, str | None] = {"OMP_NUM_THREADS": None, "OPENBLAS_NUM_THREADS": None,
                                  "MKL_NUM_THREADS": None, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if backend:
        env["KERAS_BACKEND"] = backend
    if gpu:
        env.update(GPU_SHARING_ENV)
    return env


def _uid(uid: int | None) -> int:
    """The uid sandboxed workers drop to: the grading slot's ($DLGRADE_WORKER_UID), else nobody's."""
    if uid is not None:
        return uid
    from autograder.suites.workers import worker_uid

    return worker_uid()


def model_file_cap(max_params: int) -> int:
    """Largest model file accepted, bytes: float32 weights plus two Adam slots, with room to spare."""
    return 64 * MiB + 16 * max_params


def worker_limits(cnn: course_config.Cnn, budget_s: float) -> Limits:
    """[cnn]'s limits for the training worker; one call may last budget + grace + a margin."""
    return Limits(
        address_space=cnn.memory_mb * MiB if cnn.memory_mb else None,
        cpu_seconds=None,  # TensorFlow uses every core: the wall clock is the limit
        processes=cnn.max_processes,
        file_size=model_file_cap(cnn.max_params),
        tmp_size=256 * MiB,
        timeout=budget_s + grace_seconds(budget_s) + CALL_MARGIN_S,
        start_timeout=60.0,
        output_bytes=64 * KiB,
    )


def open_worker(submission, cnn: course_config.Cnn, plan: DevicePlan, budget_s: float, *,
                sandbox: str = "auto", output_dir=None, hide: tuple[str, ...] = (),
                uid: int | None = None) -> Worker:
    """The training worker for `submission` (use as a context manager)."""
    return Worker(submission, worker_limits(cnn, budget_s), sandbox, uid=_uid(uid),
                  drivers=(DRIVER + ".py",), output_dir=output_dir, env=_threads_env(plan.backend, plan.gpu),
                  devices=plan.devices, hide=hide)
