"""Trusted side of student-code execution: a sandboxed worker process spoken to in plain data.

The grader (pytest, dlref, the scores) never imports student code. A `Worker`
starts ``worker.py`` in a separate process that imports the student's files
and answers calls; only the plain data of ``protocol.py`` crosses (no pickle).

Threat model. The student's code is hostile. With ``sandbox="bwrap"`` the
worker runs in bubblewrap:

* new pid, ipc, uts, network (no interface but a down loopback) and mount
  namespaces; a read-only view of /usr (+ /lib*, /bin links), a few /etc
  files, the Python installation and the venv at their own paths, the worker's
  two files at /opt/dlgrade and a *copy* of the submission at /submission
  (symlinks are copied as links, so links out of the submission dangle); a
  private, size-capped /tmp; the root is remounted read-only. The project
  (dlref/, solutions/, tests, outputs) is not mounted: only its ``.venv`` is,
  and packages of the project found installed in it are masked.
* an unprivileged uid: as root, bwrap runs without a user namespace (so the
  uid is a real one and RLIMIT_NPROC applies: root is exempt from it) and
  the worker drops to 65534 itself before any student code (setgroups,
  setresgid, setresuid, then checks root cannot be regained); bwrap sets
  no_new_privs and mounts everything nosuid. As a normal user, bwrap makes a
  user namespace with uid 65534 inside and nested user namespaces disabled.
* rlimits in the worker (address space, CPU seconds, processes, file size,
  no core files), a wall-clock timeout per call enforced here, and the
  capture of stdout/stderr by a thread that keeps the first bytes and counts
  the rest. ``--die-with-parent`` and the pid namespace: killing the sandbox
  (SIGKILL to its pid 1, then to bwrap) kills every process in it, daemons
  included, and the worker's death ends the namespace too.

What it does not guarantee: everything the worker reports is computed where
student code runs, so a student can forge it (the returned value, which
arguments were ``mutated``, the timings, the warnings); the grader must judge
only the returned data. No seccomp filter: the kernel's full syscall surface
is reachable (as root the sandbox has no user namespace, so nested user
namespaces are not disabled). Memory is capped per process (RLIMIT_AS), not
per sandbox: up to `processes` processes can each use it, and tmpfs pages
count against the machine, capped by `tmp_size`. As root, sandboxes that share
a uid share the RLIMIT_NPROC count (give parallel workers distinct uids).
The kernel's PDEATHSIG follows the *thread* that started the worker: a Worker
started in a thread dies when that thread exits.

``sandbox="none"`` runs the same worker as a plain subprocess (``python -I``,
the rlimits, a cleared environment, a temporary cwd): no isolation at all
(the student code runs as the caller, can read and write what the caller can,
kill the grader and leave daemons behind). It exists for students' laptops
without bwrap and for containers where bwrap cannot run (Gradescope's); callers
print a notice or refuse (see `Worker.sandboxed`). Started by root, it drops to
the Worker's uid/gid like the sandboxed worker does, so student code can read
and write only what that uid may (the caller keeps its secrets 0700/0600); when
this Python is unusable by that uid (installed where only root can read, see
`drop_problem`) it runs as root, unless $DLGRADE_REQUIRE_DROP=1 (Gradescope's
run), which makes the worker refuse to start instead.

Extra permissions a caller may give one Worker (the CNN's, see cnn_sandbox.py),
none of them given by default: grader `drivers` shipped beside worker.py; a
caller's `output_dir` bound read-write at /out (on the caller's disk: its
files are capped by `file_size` each, not in number; the caller reads them
back only once the sandbox is dead, and must treat them as hostile: links,
fifos, anything); `devices` bound into /dev (the NVIDIA device files, which
expose the GPU driver's ioctl surface to student code); `env` changes (no
thread caps, KERAS_BACKEND); `hide` masks more paths (data the student must
not read, e.g. the Fashion-MNIST test split under /usr/share).

A `Worker` is not thread-safe; use one per thread.
"""
from __future__ import annotations

import dataclasses
import fcntl
import functools
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder.inside import protocol
from autograder.inside.protocol import ProtocolError, TooLargeError, format_bytes

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30
# What runs inside the sandbox (worker, protocol, drivers) lives in autograder/inside/, copied into each stage.
HERE = Path(__file__).resolve().parent.parent / "inside"
PROJECT_ROOT = HERE.parent.parent
RUNTIME_FILES = ("worker.py", "protocol.py")
# Top-level packages of the project that must never be importable in the sandbox.
HIDDEN_PACKAGES = ("dlref", "autograder", "solutions", "exercises", "tests")
SANDBOX_RUNTIME = "/opt/dlgrade"
SANDBOX_SUBMISSION = "/submission"
SANDBOX_OUTPUT = "/out"  # the only writable place besides /tmp, when a Worker has an output_dir
# /etc/alternatives holds only symlinks (Debian's alternatives system), and links under /usr pass
# through it: /usr/bin/cc, and /usr/local/cuda -> /etc/alternatives/cuda -> /usr/local/cuda-13.0,
# which XLA and TensorFlow follow to find ptxas. Without it those links dangle in the sandbox and a
# GPU backend cannot compile anything. The rest of /etc (host configuration) stays hidden.
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
             "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives")
SUBMISSION_MAX_BYTES = 256 * MiB
SUBMISSION_MAX_ENTRIES = 10_000
# "output" is not produced here: it is for suites that fail a call because it printed. "grader":
# the worker could not be started (before any student code runs): the grader's failure, never a score.
KINDS = ("exception", "not_implemented", "import_error", "missing_function", "timeout", "cpu_time",
         "crashed", "memory", "output", "protocol", "too_large", "not_submitted",
         "unserializable", "grader")
_WORKER_KINDS = {"exception", "not_implemented", "import_error", "missing_function",
                 "not_submitted", "unserializable", "too_large", "memory", "exit", "protocol", "cpu_time"}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker process; sizes in bytes, times in seconds.

    `address_space`, `cpu_seconds`, `processes` and `file_size` are rlimits of
    the worker process (None: leave the inherited limit, e.g. for TensorFlow,
    which reserves far more address space than it uses).
    """

    address_space: int | None = 2 * GiB
    cpu_seconds: int | None = 60  # per worker process; restarted before it runs out
    processes: int | None = 64
    file_size: int | None = 64 * MiB
    tmp_size: int = 128 * MiB  # the sandbox's private /tmp (bwrap only)
    timeout: float = 10.0  # wall clock per call (and per module import)
    start_timeout: float = 30.0  # starting the sandbox and importing numpy
    output_bytes: int = 64 * KiB  # captured stdout+stderr kept per call
    output_flood: int = 16 * MiB  # printed beyond this in one call, the worker is killed (kind "output")
    message_bytes: int = 256 * MiB  # either direction


@dataclass
class CallResult:
    """Outcome of one call; `kind` is None on success, else one of KINDS."""

    ok: bool
    value: Any = None
    kind: str | None = None
    message: str = ""
    traceback: str = ""
    stdout: str = ""
    mutated: list[str] = field(default_factory=list)
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    index: int | None = None  # for `Worker.map`: which call failed or mutated its arguments

    def to_dict(self) -> dict:
        """JSON-ready summary; the value itself is described, not included."""
        d = {k: getattr(self, k) for k in ("ok", "kind", "message", "traceback", "stdout",
                                            "mutated", "seconds", "warnings")}
        d["value_type"] = _describe(self.value) if self.ok else None
        return d


def _describe(value) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        return f"ndarray {value.dtype} {tuple(value.shape)}"
    return type(value).__name__


# --- the bubblewrap command line ---------------------------------------------------

def bwrap_args(*, runtime: str, submission: str, python_dirs: list[str], hidden: list[str],
               empty_dir: str, env: dict[str, str], limits: Limits, privileged: bool,
               uid: int, gid: int, info_fd: int, bwrap: str = "bwrap",
               output_dir: str | None = None, devices: list[str] = ()) -> list[str]:
    """The whole sandbox as bwrap options (everything not listed here is invisible).

    `output_dir` (a directory of the caller) is bound read-write at SANDBOX_OUTPUT; `devices`
    (e.g. /dev/nvidia0) are bound as they are into the sandbox's otherwise minimal /dev.
    """
    if privileged:
        # Real root: no user namespace, so the uid the worker drops to is a real one.
        args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--cap-drop", "ALL",
                "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args = ["--unshare-all", "--unshare-user", "--uid", str(uid), "--gid", str(gid),
                "--disable-userns"]
    args += ["--die-with-parent", "--new-session"]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # The private /tmp first: a project (and so its venv) may itself live under /tmp, and a
    # tmpfs mounted later would hide the venv bound there.
    args += ["--perms", "1777", "--size", str(limits.tmp_size), "--tmpfs", "/tmp"]
    targets = [*ETC_FILES, *python_dirs, SANDBOX_RUNTIME, SANDBOX_SUBMISSION]
    if output_dir is not None:
        targets.append(SANDBOX_OUTPUT)
    for parent in _parents_to_create(targets):
        args += ["--perms", "0755", "--dir", parent]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    for path in python_dirs:
        args += ["--ro-bind", path, path]
    for path in hidden:
        args += ["--ro-bind", empty_dir if os.path.isdir(path) else "/dev/null", path]
    args += ["--ro-bind", runtime, SANDBOX_RUNTIME, "--ro-bind", submission, SANDBOX_SUBMISSION]
    if output_dir is not None:
        args += ["--bind", output_dir, SANDBOX_OUTPUT]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for device in devices:
        if not device.startswith("/dev/") or ".." in device.split("/"):
            raise ValueError(f"not a device path: {device!r}")
        args += ["--dev-bind", device, device]
    args += ["--remount-ro", "/", "--chdir", SANDBOX_SUBMISSION, "--clearenv"]
    for key, value in env.items():
        args += ["--setenv", key, value]
    args += ["--info-fd", str(info_fd)]
    return [bwrap, *args, "--"]


def _parents_to_create(targets: list[str]) -> list[str]:
    """Directories above the mount points, made 0755 (bwrap would make them 0700)."""
    out: set[str] = set()
    for target in targets:
        p = Path(target).parent
        while str(p) not in ("/", "/usr", "/tmp") and not str(p).startswith("/usr/"):
            out.add(str(p))
            p = p.parent
    return sorted(out, key=lambda s: (s.count("/"), s))


def python_dirs() -> list[str]:
    """The interpreter and venv trees to mount, refusing any that would expose the project."""
    import numpy

    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  str(Path(numpy.__file__).resolve().parent.parent)}
    dirs = sorted({os.path.realpath(c) for c in candidates} | candidates)
    chosen: list[str] = []
    for d in dirs:
        if d == "/usr" or d.startswith("/usr/"):
            continue
        if any(d == c or d.startswith(c + "/") for c in chosen):
            continue
        if d == "/" or _contains(d, str(PROJECT_ROOT)):
            raise RuntimeError(f"the Python installation {d} contains the project {PROJECT_ROOT}; "
                               "it cannot be mounted in the sandbox (use a venv such as .venv)")
        chosen.append(d)
    return chosen


def _contains(outer: str, inner: str) -> bool:
    outer, inner = os.path.realpath(outer), os.path.realpath(inner)
    return inner == outer or inner.startswith(outer.rstrip("/") + "/")


def hidden_paths(dirs: list[str]) -> list[str]:
    """Project packages installed (not just linked) inside the mounted Python trees."""
    out = []
    for d in dirs:
        for site in Path(d).glob("lib*/python3*/site-packages"):
            for name in HIDDEN_PACKAGES:
                for candidate in (site / name, site / f"{name}.py"):
                    if candidate.exists() or candidate.is_symlink():
                        out.append(str(candidate))
    return out


def worker_env(home: str, changes: dict[str, str | None] | None = None) -> dict[str, str]:
    """The worker's whole environment; `changes` sets keys (None removes one, e.g. a thread cap)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home,
           "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    for key, value in (changes or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@functools.lru_cache(maxsize=None)
def bwrap_problem() -> str | None:
    """None when bwrap can run a sandboxed Python here, else why not (cached)."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed"
    with tempfile.TemporaryDirectory(prefix="dlgrade-probe-") as tmp:
        stage = _Stage.create(tmp, None)
        r, w = os.pipe()
        try:
            privileged = os.geteuid() == 0
            args = bwrap_args(runtime=stage.runtime, submission=stage.submission,
                              python_dirs=python_dirs(), hidden=[], empty_dir=stage.empty,
                              env=worker_env("/tmp"), limits=Limits(), privileged=privileged,
                              uid=65534, gid=65534, info_fd=w,
                              bwrap=shutil.which("bwrap") or "bwrap")
            drop = ("import os; os.setgroups([]); os.setresgid(65534, 65534, 65534); "
                    "os.setresuid(65534, 65534, 65534); " if privileged else "")
            done = subprocess.run([*args, sys.executable, "-I", "-c", drop + "import numpy"],
                                  stdin=subprocess.DEVNULL, capture_output=True, pass_fds=(w,),
                                  timeout=60, check=False)
        except (OSError, subprocess.SubprocessError, RuntimeError) as e:
            return f"bwrap probe failed: {e}"
        finally:
            os.close(r)
            os.close(w)
    if done.returncode != 0:
        return f"bwrap probe failed: {done.stderr.decode(errors='replace').strip()[-500:]}"
    return None


def bwrap_available() -> bool:
    """Whether `sandbox="auto"` will use bubblewrap."""
    return bwrap_problem() is None


# "1": a worker started by root with sandbox="none" refuses to start as root when it cannot drop.
ENV_REQUIRE_DROP = "DLGRADE_REQUIRE_DROP"


@functools.lru_cache(maxsize=None)
def drop_problem(uid: int, gid: int, stage_parent: str | None = None) -> str | None:
    """None when this Python imports numpy after dropping from root to uid/gid (and can reach
    `stage_parent`, where stages are made), else why not (cached)."""
    parent = stage_parent or tempfile.gettempdir()
    code = (f"import os, sys; os.setgroups([]); os.setresgid({gid}, {gid}, {gid}); "
            f"os.setresuid({uid}, {uid}, {uid}); import numpy; os.stat(os.path.join(sys.argv[1], '.'))")
    try:
        done = subprocess.run([sys.executable, "-I", "-c", code, parent], stdin=subprocess.DEVNULL,
                              capture_output=True, cwd="/", timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return f"the probe as uid {uid} failed: {e}"
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return f"{sys.executable} (with numpy, and {parent}) is not usable as uid {uid}: {tail[0][-300:]}"
    return None


# --- the staged copy of the submission and the worker's files ----------------------------

@dataclass
class _Stage:
    root: str
    runtime: str
    submission: str
    empty: str
    home: str

    @classmethod
    def create(cls, root: str, submission_dir: str | None, drivers: tuple[str, ...] = ()) -> _Stage:
        os.chmod(root, 0o755)
        paths = {name: os.path.join(root, name) for name in ("runtime", "submission", "empty",
                                                             "home")}
        for p in paths.values():
            os.mkdir(p, 0o755)
            os.chmod(p, 0o755)
        os.chmod(paths["home"], 0o777)
        for name in (*RUNTIME_FILES, *drivers):
            shutil.copyfile(HERE / name, os.path.join(paths["runtime"], name))
            os.chmod(os.path.join(paths["runtime"], name), 0o644)
        if submission_dir is not None:
            _copy_submission(submission_dir, paths["submission"])
        return cls(root=root, **paths)


class _SubmissionTooLarge(Exception):
    pass


def _copy_submission(src: str, dst: str) -> None:
    """Copy regular files, directories and symlinks (as links); skip fifos and devices."""
    budget = {"bytes": SUBMISSION_MAX_BYTES, "entries": SUBMISSION_MAX_ENTRIES}

    def walk(s: str, d: str, depth: int) -> None:
        with os.scandir(s) as it:
            entries = list(it)
        for e in entries:
            budget["entries"] -= 1
            if budget["entries"] < 0:
                raise _SubmissionTooLarge(f"more than {SUBMISSION_MAX_ENTRIES} files")
            target = os.path.join(d, e.name)
            if e.is_symlink():
                os.symlink(os.readlink(e.path), target)
            elif e.is_dir(follow_symlinks=False):
                if depth < 16 and e.name not in ("__pycache__", ".git"):
                    os.mkdir(target, 0o755)
                    os.chmod(target, 0o755)
                    walk(e.path, target, depth + 1)
            elif e.is_file(follow_symlinks=False):
                fd = os.open(e.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                with os.fdopen(fd, "rb") as fin, open(target, "wb") as fout:
                    while chunk := fin.read(1 << 20):
                        budget["bytes"] -= len(chunk)
                        if budget["bytes"] < 0:
                            raise _SubmissionTooLarge(
                                f"more than {format_bytes(SUBMISSION_MAX_BYTES)}")
                        fout.write(chunk)
                os.chmod(target, 0o644)

    walk(src, dst, 0)


# --- output capture -------------------------------------------------------------------

class _OutputDrain(threading.Thread):
    """Reads the worker's stdout/stderr; keeps the first `keep` bytes, counts the rest."""

    def __init__(self, fd: int, keep: int, flood: int | None = None):
        super().__init__(name="dlgrade-output", daemon=True)
        self._fd, self._keep, self._flood = fd, keep, flood
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._dropped = 0
        self._wake_r, self._wake_w = os.pipe()
        # Readable once more than `flood` bytes were printed since the last take: draining
        # hundreds of MB per call would stall grading, so the caller kills the worker instead.
        self.flood_r, self._flood_w = os.pipe()
        self._flooded = False
        self._eof = threading.Event()

    def run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        try:
            while True:
                ready = {fd for fd, _ in poller.poll()}
                if self._wake_r in ready:
                    return
                with self._lock:
                    try:
                        data = os.read(self._fd, 1 << 20)
                    except BlockingIOError:
                        continue
                    if not data:
                        return
                    room = max(0, self._keep - len(self._buf))
                    self._buf += data[:room]
                    self._dropped += max(0, len(data) - room)
                    if self._flood and self._dropped > self._flood and not self._flooded:
                        # Keep draining (closing the pipe would let the worker see EPIPE and
                        # reply normally); the caller kills the worker.
                        self._flooded = True
                        os.write(self._flood_w, b"x")
        finally:
            with self._lock:
                self._eof.set()
                os.close(self._fd)
            os.close(self._wake_r)

    def _pending(self) -> int:
        if self._eof.is_set():
            return 0
        raw = fcntl.ioctl(self._fd, termios.FIONREAD, b"\0\0\0\0")
        return struct.unpack("i", raw)[0]

    def take(self, settle: float = 0.5) -> str:
        """Everything captured since the last take, once the pipe is read empty."""
        deadline = time.monotonic() + settle
        while True:
            with self._lock:
                if self._pending() == 0 or time.monotonic() > deadline:
                    data, dropped = bytes(self._buf), self._dropped
                    self._buf.clear()
                    self._dropped = 0
                    break
            time.sleep(0.001)
        text = data.decode("utf-8", errors="replace")
        if dropped:
            text += f"\n[... output truncated: {format_bytes(dropped)} more not shown]"
        return text

    def wait_eof(self, timeout: float) -> None:
        self._eof.wait(timeout)

    def stop(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self.join(timeout=5)
        os.close(self._wake_w)
        os.close(self.flood_r)
        os.close(self._flood_w)


# --- one running worker process -------------------------------------------------------

class _Died(Exception):
    pass


class _Flooded(Exception):
    pass


@dataclass
class _Process:
    popen: subprocess.Popen
    req_w: int
    resp_r: int
    exit_fd: int | None  # pidfd of the popen child: readable once it has exited
    init_fd: int | None  # pidfd of the sandbox's pid 1 (bwrap only)
    init_pid: int | None  # its pid as seen from here
    drain: _OutputDrain
    imported: set[str] = field(default_factory=set)
    cpu: float = 0.0
    closed: bool = False

    def wait_readable(self, deadline: float) -> None:
        """Until the reply pipe is readable; TimeoutError, or _Died when the process exits."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            poller = select.poll()
            poller.register(self.resp_r, select.POLLIN)
            poller.register(self.drain.flood_r, select.POLLIN)
            if self.exit_fd is not None:
                poller.register(self.exit_fd, select.POLLIN)
                wait_ms = int(remaining * 1000) + 1
            else:
                wait_ms = min(50, int(remaining * 1000) + 1)
            ready = {fd for fd, _ in poller.poll(wait_ms)}
            if self.drain.flood_r in ready:
                raise _Flooded
            if self.resp_r in ready:
                return
            if (self.exit_fd is not None and self.exit_fd in ready) or \
                    (self.exit_fd is None and self.popen.poll() is not None):
                raise _Died

    def exit_status(self, timeout: float = 5.0) -> int | None:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        """SIGKILL the sandbox's pid 1 (its namespace dies with it) and the process group."""
        if self.closed:
            return
        self.closed = True
        if self.init_fd is not None:
            try:
                signal.pidfd_send_signal(self.init_fd, signal.SIGKILL)
            except OSError:
                pass
            # pid 1 reports its exit only once every process of its namespace is gone; bwrap
            # then reaps it and exits by itself.
            select.select([self.init_fd], [], [], 5)
            self.exit_status(timeout=2)
        if self.popen.returncode is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except OSError:
                pass
        self.exit_status(timeout=10)
        for fd in (self.req_w, self.resp_r, self.exit_fd, self.init_fd):
            if fd is not None:
                os.close(fd)
        self.drain.wait_eof(1.0)
        self.drain.stop()


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _read_info(fd: int, deadline: float) -> dict:
    """bwrap's --info-fd JSON (it closes the fd once written)."""
    data = b""
    os.set_blocking(fd, False)
    while time.monotonic() < deadline:
        if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    try:
        info = json.loads(data)
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _set_pipe_size(fd: int) -> None:
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (AttributeError, OSError):
        pass


# --- the worker handle ------------------------------------------------------------------

class Worker:
    """Runs functions of the student's modules in a (sandboxed) worker process.

    `call` never raises for anything the student's code does; it raises only
    for grader bugs (invalid names, arguments that cannot be sent) or after
    `close`. The process starts on the first call and is restarted for the
    next call after a timeout, crash, exit or protocol violation.

    Options for workers that need more than the numpy exercises (the CNN's):
    `drivers`, grader files of this package shipped beside worker.py, whose
    functions `call_driver` runs in the worker; `output_dir`, a directory of
    the caller bound read-write at SANDBOX_OUTPUT (the path the worker sees
    is `output_path`); `env`, changes to the worker's environment (None
    removes a key); `devices`, device files to bind into the sandbox; `hide`,
    more paths masked by an empty directory or /dev/null (e.g. data the
    student must not read).
    """

    def __init__(self, submission_dir, limits: Limits = Limits(), sandbox: str = "auto", *,
                 uid: int = 65534, gid: int = 65534, drivers: tuple[str, ...] = (),
                 output_dir: str | os.PathLike | None = None,
                 env: dict[str, str | None] | None = None, devices: tuple[str, ...] = (),
                 hide: tuple[str, ...] = ()):
        if sandbox not in ("auto", "bwrap", "none"):
            raise ValueError(f"sandbox must be 'auto', 'bwrap' or 'none', not {sandbox!r}")
        if sandbox == "bwrap" and not bwrap_available():
            raise RuntimeError(f"sandbox='bwrap' requested but {bwrap_problem()}")
        for name in drivers:
            if not (name.endswith(".py") and name[:-3].isidentifier() and (HERE / name).is_file()):
                raise ValueError(f"no driver file {name!r} in {HERE}")
        self.submission_dir = os.path.abspath(submission_dir)
        self.limits = limits
        self.sandboxed = sandbox == "bwrap" or (sandbox == "auto" and bwrap_available())
        self.uid, self.gid = uid, gid
        self.drivers = tuple(drivers)
        self.output_dir = os.path.abspath(output_dir) if output_dir is not None else None
        self.env_changes = dict(env or {})
        self.devices = tuple(devices)
        self.hide = tuple(hide)
        if self.output_dir is not None and not os.path.isdir(self.output_dir):
            raise ValueError(f"output_dir {self.output_dir} is not a directory")
        self._lock = threading.Lock()
        self._proc: _Process | None = None
        self._stage: _Stage | None = None
        self._stage_error: CallResult | None = None
        self._failed_modules: dict[str, CallResult] = {}
        self._next_id = 0
        self._closed = False
        self._res = {"proc": None, "stage": None}
        self._finalizer = weakref.finalize(self, _release, self._res)

    @property
    def output_path(self) -> str | None:
        """Where the worker sees `output_dir`."""
        if self.output_dir is None:
            return None
        return SANDBOX_OUTPUT if self.sandboxed else self.output_dir

    @property
    def sandbox_pid(self) -> int | None:
        """Pid (seen from here) of the running sandbox's pid 1, or of the unsandboxed worker."""
        proc = self._proc
        if proc is None:
            return None
        return proc.init_pid if self.sandboxed else proc.popen.pid

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Kill the sandbox (every process in it) and delete the staged copy."""
        with self._lock:
            self._closed = True
            self._proc = None
            self._finalizer()

    # --- calls ---------------------------------------------------------------------
    def call(self, module: str, function: str, /, *args, **kwargs) -> CallResult:
        """`module.function(*args, **kwargs)` in the worker."""
        _check_names(module, function)
        request = {"op": "call", "module": module, "function": function, "args": list(args),
                   "kwargs": dict(kwargs)}
        return self._request(request, module, function)

    def map(self, module: str, function: str, calls: list[tuple[tuple, dict]], *,
            timeout: float | None = None, cpu: float | None = None) -> CallResult:
        """`module.function(*args, **kwargs)` for each (args, kwargs), in one round trip.

        The value is the list of results; a failure (or an argument changed in place) stops
        at that call, named by `index`. `timeout` (default: the per-call limit) is for all
        the calls together. `cpu`: seconds of CPU time each call may use (the worker stops
        a call past it, and is then killed as after a timeout): a limit that does not depend
        on the machine's load, for calls where a mistake means a busy loop.
        """
        _check_names(module, function)
        if cpu is not None and not 0 < cpu < 1e6:
            raise ValueError(f"cpu must be a positive number of seconds, not {cpu!r}")
        request = {"op": "map", "module": module, "function": function,
                   "calls": [[list(args), dict(kwargs)] for args, kwargs in calls],
                   **({"cpu": float(cpu)} if cpu is not None else {})}
        return self._request(request, module, function, timeout=timeout)

    def batch(self, module: str, calls: list[tuple[str, list, dict]], *, timeout: float | None = None) -> CallResult:
        """`module.function(*args, **kwargs)` for each (function, args, kwargs), in one round trip.

        The value is a list of CallResults, one per call made, in order: the worker stops after
        the first that fails or changes an argument in place. A failure of the batch as a whole
        (a timeout, a crash, a malformed reply, or output printed, which a single call's result
        could not be given) is the batch's own CallResult, not ok. `timeout`: for all calls.
        """
        _check_names(module, *(function for function, _, _ in calls))
        request = {"op": "batch", "calls": [[module, function, list(args), dict(kwargs)]
                                            for function, args, kwargs in calls]}
        result = self._request(request, module, "a batch of calls", timeout=timeout)
        if not result.ok:
            return result
        if result.stdout:
            return CallResult(ok=False, kind="output", message="the code printed while running a batch of calls",
                              stdout=result.stdout, seconds=result.seconds)
        replies = result.value
        try:
            if type(replies) is not list or not 0 < len(replies) <= len(calls):
                raise ProtocolError("a batch reply of the wrong length")
            out = []
            for (function, _, _), reply in zip(calls, replies):
                reply = {**reply, "id": 0} if type(reply) is dict else reply
                _check_reply(reply, 0, call=True)  # clips its texts too
                if reply["ok"]:
                    seconds = reply.get("seconds")
                    if type(seconds) not in (int, float) or not 0 <= seconds <= result.seconds:
                        seconds = result.seconds
                    out.append(CallResult(ok=True, value=reply["value"], mutated=list(reply["mutated"]),
                                          seconds=float(seconds), warnings=list(reply["warnings"])))
                else:
                    kind, message = self._error_message(reply, module, function, importing=False)
                    out.append(CallResult(ok=False, kind=kind, message=message, traceback=reply.get("traceback", "")))
            if any(not r.ok or r.mutated for r in out[:-1]) or (len(out) < len(calls) and out[-1].ok
                                                                 and not out[-1].mutated):
                raise ProtocolError("a batch that went on after a failure, or stopped without one")
        except ProtocolError as e:
            return CallResult(ok=False, kind="protocol", message=f"the worker sent an invalid batch reply ({e})",
                              seconds=result.seconds)
        return dataclasses.replace(result, value=out)

    def call_driver(self, driver: str, function: str, module: str | None, /, *args,
                    **kwargs) -> CallResult:
        """`driver.function(student_module, *args, **kwargs)` in the worker (no module: no student
        module argument, and no student code imported for this call).

        A driver is grader code that runs where student code runs: what it returns is as
        untrusted as anything else from the worker. Failures of the student's code it calls are
        reported like `call`'s, named after the student's function that failed.
        """
        if driver + ".py" not in self.drivers:
            raise ValueError(f"driver {driver!r} was not shipped (drivers={self.drivers})")
        _check_names(function, *(() if module is None else (module,)))
        request = {"op": "driver", "driver": driver, "module": module, "function": function,
                   "args": list(args), "kwargs": dict(kwargs)}
        return self._request(request, module, function, driver=True)

    def _request(self, request: dict, module: str | None, function: str, *,
                 driver: bool = False, timeout: float | None = None) -> CallResult:
        with self._lock:
            if self._closed:
                raise RuntimeError("this Worker is closed")
            cached = self._failed_modules.get(module) if module is not None else None
            if cached is not None:
                return dataclasses.replace(cached, stdout="", seconds=0.0)
            request = {"id": self._new_id(), **request}
            parts = protocol.encode_parts(request, max_bytes=self.limits.message_bytes)
            started = time.monotonic()
            proc = self._running(started)
            if isinstance(proc, CallResult):
                return proc
            if module is not None and module not in proc.imported:
                rid = self._new_id()
                imp = protocol.encode_parts({"id": rid, "op": "import", "module": module})
                result = self._exchange(proc, imp, rid, module, function, importing=True,
                                        started=started)
                if not result.ok:
                    self._failed_modules[module] = dataclasses.replace(result, stdout="")
                    return result
                proc.imported.add(module)
            return self._exchange(proc, parts, request["id"], module, function, importing=False,
                                  started=started, driver=driver, timeout=timeout, cpu=request.get("cpu"))

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _exchange(self, proc: _Process, parts: list, rid: int, module: str | None, function: str,
                  *, importing: bool, started: float, driver: bool = False,
                  timeout: float | None = None, cpu: float | None = None) -> CallResult:
        lim = self.limits
        limit = lim.timeout if timeout is None or importing else timeout
        deadline = time.monotonic() + limit
        where = f"while importing {module}.py" if importing else f"while running {function}"
        try:
            protocol.write_all(proc.req_w, [struct.pack(">Q", sum(memoryview(p).nbytes
                                                                   for p in parts)), *parts],
                               deadline)
            proc.wait_readable(deadline)
            reply = protocol.recv(proc.resp_r, max_bytes=lim.message_bytes, deadline=deadline)
            _check_reply(reply, rid, call=not importing)
        except TimeoutError:
            what = (f"{module}.py did not finish importing within {limit:g} s "
                    "(an infinite loop at module level?)") if importing else (
                f"{function} did not return within {limit:g} s (an infinite loop?)")
            return self._fail(proc, "timeout", what, started)
        except _Flooded:
            return self._fail(proc, "output", f"the code printed more than {format_bytes(lim.output_flood)} "
                                              f"{where} (printing inside a loop?); the worker was stopped", started)
        except (_Died, EOFError, BrokenPipeError):
            return self._fail(proc, "crashed", self._death_message(proc, where), started)
        except TooLargeError as e:
            return self._fail(proc, "too_large", f"the worker sent too much data {where}: {e}",
                              started)
        except ProtocolError as e:
            return self._fail(proc, "protocol", f"the worker sent an invalid reply {where} ({e}); "
                                                "it was restarted", started)
        if type(reply.get("cpu")) in (int, float):
            proc.cpu = float(reply["cpu"])
        index = reply.get("index") if type(reply.get("index")) is int else None  # a map's failed call
        if not reply["ok"] and reply["kind"] == "cpu_time":
            return self._fail(proc, "cpu_time", _cpu_time_message(function, cpu), started, index)
        stdout = "" if importing and reply["ok"] else proc.drain.take()
        elapsed = time.monotonic() - started
        if reply["ok"]:
            if importing:
                return CallResult(ok=True)
            seconds = reply.get("seconds")
            if type(seconds) not in (int, float) or not 0 <= seconds <= elapsed:
                seconds = elapsed  # the worker's own timing is only believed when plausible
            return CallResult(ok=True, value=reply["value"], stdout=stdout,
                              mutated=list(reply["mutated"]), seconds=float(seconds),
                              warnings=list(reply["warnings"]), index=index)
        if driver and reply.get("entry"):
            function = reply["entry"]  # the student's function that failed, not the driver's
        kind, message = self._error_message(reply, module, function, importing)
        return CallResult(ok=False, kind=kind, message=message,
                          traceback=reply.get("traceback", ""), stdout=stdout, seconds=elapsed,
                          index=index)

    def _fail(self, proc: _Process, kind: str, message: str, started: float,
              index: int | None = None) -> CallResult:
        """Kill the process (restarted on the next call) and report."""
        proc.kill()
        self._proc = self._res["proc"] = None
        stdout = proc.drain.take(settle=0)
        return CallResult(ok=False, kind=kind, message=message, stdout=stdout,
                          seconds=time.monotonic() - started, index=index)

    def _death_message(self, proc: _Process, where: str) -> str:
        rc = proc.exit_status(timeout=2)
        if rc is None:
            return f"the worker process stopped answering {where}"
        sig = -rc if rc < 0 else (rc - 128 if self.sandboxed and rc > 128 else None)
        if sig:
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            cpu = self.limits.cpu_seconds
            hint = {
                signal.SIGKILL: "killed: out of memory" + (
                    f", or over the CPU time limit of {cpu} s?" if cpu else "?"),
                signal.SIGXCPU: f"the CPU time limit of {cpu} s was exceeded",
                signal.SIGSEGV: "a segmentation fault",
                signal.SIGBUS: "a bus error",
                signal.SIGABRT: "aborted",
                signal.SIGXFSZ: "the file size limit was exceeded",
            }.get(sig, "killed by a signal")
            return f"the worker process died with signal {name} {where} ({hint})"
        return (f"the worker process exited with status {rc} {where} (did the code call "
                "os._exit(), sys.exit() or kill its own process?)")

    def _error_message(self, reply: dict, module: str, function: str,
                       importing: bool) -> tuple[str, str]:
        kind, typ, msg, line = reply["kind"], reply["type"], reply["message"], reply.get("line")
        file = reply.get("file") or f"{module}.py"
        at = f" ({file}, line {line})" if line else ""
        if importing and kind == "exit":
            return "import_error", f"{module}.py called {msg} while being imported"
        limit = self.limits.address_space
        memory = f"ran out of memory ({typ}" + (
            f"; the sandbox allows {format_bytes(limit)} of address space)" if limit else ")")
        if importing and kind == "memory":
            return kind, f"importing {module}.py {memory}{at}"
        if kind == "not_implemented":
            raiser = reply.get("raiser")
            where = f" at {file}, line {line}" if line else ""
            if raiser and raiser != function:  # a helper's stub, not the function called
                return kind, (f"{function} could not run: {raiser}, which it calls, is not implemented yet "
                              f"({raiser} raised NotImplementedError{where})")
            return kind, f"{function} is not implemented yet (it raised NotImplementedError{where})"
        if kind == "exception":
            return kind, f"{function} raised {typ}: {msg}{at}{self._os_hint(typ, msg)}"
        if kind == "memory":
            return kind, f"{function} {memory}{at}"
        if kind == "import_error":
            line_part = f" at line {line}" if line else ""
            return kind, f"{module}.py could not be imported: {typ}{line_part}: {msg}"
        if kind == "exit":
            return "crashed", f"{function} called {msg} instead of returning a value"
        if kind == "unserializable":
            return kind, f"{function} returned a value the grader cannot receive: {msg}"
        if kind == "too_large":
            return kind, f"{function} returned a value that is too large to send back: {msg}"
        if kind == "cpu_time":
            return "cpu_time", _cpu_time_message(function, None)
        return kind, msg

    def _os_hint(self, typ: str, msg: str) -> str:
        if "File too large" in msg and self.limits.file_size:
            return f" (the sandbox allows files up to {format_bytes(self.limits.file_size)})"
        if "No space left" in msg and self.sandboxed:
            return f" (the sandbox's /tmp holds {format_bytes(self.limits.tmp_size)})"
        if self.sandboxed and "Read-only file system" in msg:
            return " (in the sandbox only /tmp is writable)"
        return ""

    # --- process management ------------------------------------------------------------
    def _running(self, started: float) -> _Process | CallResult:
        proc = self._proc
        cpu_limit = self.limits.cpu_seconds
        if proc is not None and cpu_limit and proc.cpu + self.limits.timeout >= cpu_limit:
            proc.kill()  # fresh process before the CPU rlimit could end a healthy call
            self._proc = self._res["proc"] = proc = None
        if proc is not None:
            return proc
        if self._stage is None and self._stage_error is None:
            self._make_stage()
        if self._stage_error is not None:
            return dataclasses.replace(self._stage_error)
        return self._start(started)

    def _make_stage(self) -> None:
        if not os.path.isdir(self.submission_dir):
            self._stage_error = CallResult(
                ok=False, kind="not_submitted",
                message=f"the submission folder {self.submission_dir} does not exist")
            return
        root = tempfile.mkdtemp(prefix="dlgrade-")
        self._res["stage"] = root
        try:
            self._stage = _Stage.create(root, self.submission_dir, self.drivers)
        except _SubmissionTooLarge as e:
            self._stage_error = CallResult(ok=False, kind="too_large",
                                           message=f"the submission folder holds {e}")

    def _drop_ids(self) -> list[int] | CallResult | None:
        """[uid, gid] the worker started by root drops to; None: it stays root; a CallResult: it must not start."""
        if self.sandboxed:
            return [self.uid, self.gid]
        problem = drop_problem(self.uid, self.gid, os.path.dirname(self._stage.root))
        if problem is None:
            return [self.uid, self.gid]
        if os.environ.get(ENV_REQUIRE_DROP) == "1":
            return CallResult(ok=False, kind="grader",
                              message=f"the grader refused to run student code as root: {problem}")
        return None  # a Python only root can use (e.g. under /root): unsandboxed as before

    def _start(self, started: float) -> _Process | CallResult:
        stage, lim = self._stage, self.limits
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        info_r, info_w = os.pipe()
        for fd in (req_w, resp_w, out_w):
            _set_pipe_size(fd)
        privileged = os.geteuid() == 0
        drop = self._drop_ids() if privileged else None
        if isinstance(drop, CallResult):
            for fd in (req_r, req_w, resp_r, resp_w, out_r, out_w, info_r, info_w):
                os.close(fd)
            return drop
        config = {
            "req": req_r, "resp": resp_w, "max_bytes": lim.message_bytes,
            "limits": {"as": lim.address_space, "cpu": lim.cpu_seconds,
                       "nproc": lim.processes, "fsize": lim.file_size, "core": 0,
                       "nofile": 256},
            "drop": drop,
        }
        if drop and self.output_dir is not None:
            # The worker drops to uid: the output directory must be its own (and no one else's).
            os.chown(self.output_dir, self.uid, self.gid)
            os.chmod(self.output_dir, 0o700)
        python = [sys.executable, "-I", "-B", "-X", "utf8"]
        if self.sandboxed:
            config.update(submission=SANDBOX_SUBMISSION, cwd=SANDBOX_SUBMISSION)
            dirs = python_dirs()
            argv = [*bwrap_args(runtime=stage.runtime, submission=stage.submission,
                                python_dirs=dirs, hidden=[*hidden_paths(dirs), *self.hide],
                                empty_dir=stage.empty,
                                env=worker_env("/tmp", self.env_changes), limits=lim,
                                privileged=privileged, uid=self.uid, gid=self.gid,
                                info_fd=info_w, bwrap=shutil.which("bwrap") or "bwrap",
                                output_dir=self.output_dir, devices=list(self.devices)),
                    *python, f"{SANDBOX_RUNTIME}/worker.py", json.dumps(config)]
            env, cwd, pass_fds = None, stage.home, (req_r, resp_w, info_w)
        else:
            config.update(submission=stage.submission, cwd=stage.home)
            argv = [*python, os.path.join(stage.runtime, "worker.py"), json.dumps(config)]
            env = worker_env(stage.home, self.env_changes)
            cwd, pass_fds = stage.home, (req_r, resp_w)
        try:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w,
                                     pass_fds=pass_fds, start_new_session=True, close_fds=True,
                                     env=env if env is not None else {"PATH": os.defpath},
                                     cwd=cwd)
        except OSError as e:
            for fd in (req_r, req_w, resp_r, resp_w, out_r, out_w, info_r, info_w):
                os.close(fd)
            return CallResult(ok=False, kind="grader",
                              message=f"the grading sandbox could not start: {e}")
        for fd in (req_r, resp_w, out_w, info_w):
            os.close(fd)
        os.set_blocking(req_w, False)
        os.set_blocking(resp_r, False)
        os.set_blocking(out_r, False)
        drain = _OutputDrain(out_r, lim.output_bytes, lim.output_flood)
        drain.start()
        deadline = time.monotonic() + lim.start_timeout
        init_fd = init_pid = None
        if self.sandboxed:
            child = _read_info(info_r, deadline).get("child-pid")
            if type(child) is int and popen.poll() is None:
                init_fd, init_pid = _pidfd(child), child
        os.close(info_r)
        proc = _Process(popen=popen, req_w=req_w, resp_r=resp_r, exit_fd=_pidfd(popen.pid),
                        init_fd=init_fd, init_pid=init_pid, drain=drain)
        self._proc = self._res["proc"] = proc
        try:
            protocol.send(req_w, {"id": 0, "op": "hello"}, deadline=deadline)
            proc.wait_readable(deadline)
            hello = protocol.recv(resp_r, deadline=deadline)
            if not (isinstance(hello, dict) and hello.get("ok") is True
                    and hello.get("worker") == "dlgrade" and hello.get("id") == 0):
                raise ProtocolError("unexpected handshake")
        except (TimeoutError, _Died, EOFError, BrokenPipeError, ProtocolError) as e:
            reason = "it did not answer in time" if isinstance(e, TimeoutError) else \
                f"{type(e).__name__} {e}".strip()
            failed = self._fail(proc, "grader", "", started)
            tail = failed.stdout.strip()[-1500:]
            failed.message = (f"the grading sandbox could not start ({reason})"
                              + (f": {tail}" if tail else ""))
            return failed
        proc.drain.take(settle=0)  # start-up noise is not the student's output
        return proc


def _release(res: dict) -> None:
    proc, stage = res.get("proc"), res.get("stage")
    res["proc"] = res["stage"] = None
    if proc is not None:
        proc.kill()
    if stage is not None:
        shutil.rmtree(stage, ignore_errors=True)


def _check_names(*names) -> None:
    """ValueError unless each module or function name is an identifier (it is looked up in the worker)."""
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"invalid module or function name: {name!r}")


def _cpu_time_message(function: str, cpu: float | None) -> str:
    used = f"{cpu:g} s of CPU time, this call's limit" if cpu else "its CPU time"
    return f"{function} was stopped after {used} (an infinite loop?)"


def _check_reply(reply, rid: int, call: bool) -> None:
    """Reject replies that do not have the documented shape."""
    if type(reply) is not dict or reply.get("id") != rid or type(reply.get("ok")) is not bool:
        raise ProtocolError("reply without the expected id/ok fields")
    if reply["ok"]:
        if call:
            mutated, notes = reply.get("mutated"), reply.get("warnings")
            if "value" not in reply or type(mutated) is not list or type(notes) is not list or \
                    not all(type(m) is str for m in mutated) or \
                    not all(type(w) is str for w in notes):
                raise ProtocolError("malformed value/mutated/warnings fields")
            if len(mutated) > 1000 or len(notes) > 1000:
                raise ProtocolError("oversized mutated/warnings lists")
            reply["mutated"] = [m[:200] for m in mutated]
            reply["warnings"] = [w[:500] for w in notes]
        return
    if reply.get("kind") not in _WORKER_KINDS or type(reply.get("message")) is not str or \
            type(reply.get("type")) is not str or type(reply.get("traceback", "")) is not str:
        raise ProtocolError("malformed error reply")
    line = reply.get("line")
    if line is not None and type(line) is not int:
        raise ProtocolError("malformed line number")
    entry = reply.get("entry")
    if entry is not None and not (type(entry) is str and entry.isidentifier() and len(entry) <= 100):
        raise ProtocolError("malformed entry name")
    for key, limit in (("raiser", 100), ("file", 200)):  # shown to the student: short and printable
        value = reply.get(key)
        if value is not None and not (type(value) is str and 0 < len(value) <= limit and value.isprintable()):
            raise ProtocolError(f"malformed {key} field")
    reply["message"] = reply["message"][:2000]
    reply["type"] = reply["type"][:100]
    reply["traceback"] = reply.get("traceback", "")[:8000]
