"""The bubblewrap command line: what the sandbox mounts and hides, its environment, and whether it works here."""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder.sandbox.limits import (ETC_FILES, HIDDEN_PACKAGES, PROJECT_ROOT, SANDBOX_OUTPUT,  # noqa: F401
                                       SANDBOX_RUNTIME, SANDBOX_SUBMISSION, GiB, KiB, Limits, MiB)
from autograder.sandbox.stage import _Stage

def bwrap_args(*, runtime: str, submission: str, python_dirs: list[str], hidden: list[str],
               empty_dir: str, env: dict[str, str], limits: Limits, privileged: bool,
               uid: int, gid: int, info_fd: int, bwrap: str = "bwrap",
               output_dir: str | None = None, devices: list[str] = (),
               caps: tuple[str, ...] = (), binds: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """The whole sandbox as bwrap options (everything not listed here is invisible).

    `output_dir` (a directory of the caller) is bound read-write at SANDBOX_OUTPUT; `devices`
    (e.g. /dev/nvidia0) are bound as they are into the sandbox's otherwise minimal /dev.
    `caps` (as root only) and `binds` ((source, target) pairs, read-only) are for the
    launcher (sandbox/launcher.py), which makes each view's namespaces itself.
    """
    if privileged:
        # Real root: no user namespace, so the uid the worker drops to is a real one.
        args = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                "--unshare-cgroup-try", "--cap-drop", "ALL",
                "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        for cap in caps:
            args += ["--cap-add", cap]
    else:
        if caps:
            raise ValueError("capabilities are only given to a sandbox started by root")
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
    targets = [*ETC_FILES, *python_dirs, SANDBOX_RUNTIME, SANDBOX_SUBMISSION, *(t for _, t in binds)]
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
    for source, target in binds:
        args += ["--ro-bind", source, target]
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
