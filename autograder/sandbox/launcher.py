"""The host side of the launcher (inside/launcher.py): one sandbox per grading session that forks each view's worker.

A fresh worker spends about 90 ms of CPU starting (bubblewrap, Python, importing numpy), and a
submission has a view per exercise. The launcher pays that once per session; each view's worker
is then forked from it, in mount, pid and IPC namespaces of its own made before any student
code runs: only its view at /submission, a fresh /tmp and /dev/shm, its own /proc, its own uid
drop, and nothing left over from the view before (its pid 1 is killed, and every process of
the view with it, before the next view starts). The launcher itself never runs student code.

Used only where it can make those namespaces: bubblewrap started by root (the launcher needs
CAP_SYS_ADMIN, which the worker gives up with root before any student code). Elsewhere, and
for workers that need more than a view (drivers, devices, an output folder: the CNN's), each
worker starts its own bubblewrap as before. $DLGRADE_FORK_WORKERS=0 turns it off.
"""
from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

from autograder.sandbox.bwrap import bwrap_args, bwrap_available, hidden_paths, python_dirs, worker_env
from autograder.sandbox.limits import SANDBOX_RUNTIME, Limits
from autograder.sandbox.stage import (_OutputDrain, _pidfd, _Process, _read_info, _set_pipe_size, _Stage, kill_pidfd,
                                      log_tail)

ENV = "DLGRADE_FORK_WORKERS"
VIEWS = "/views"  # where the launcher sees the views' stages


class LauncherError(RuntimeError):
    """The launcher could not start, or could not fork a view (the caller starts a bubblewrap instead)."""


def wanted() -> bool:
    """Whether workers of views should be forked by a launcher here."""
    return os.environ.get(ENV, "1") != "0" and os.geteuid() == 0 and bwrap_available()


class Launcher:
    """A running launcher sandbox; `fork` starts one view's worker in it. Not thread-safe beyond its lock."""

    def __init__(self, limits: Limits = Limits()):
        self.limits = limits
        self.root = tempfile.mkdtemp(prefix="dlgrade-launcher-")
        os.chmod(self.root, 0o755)
        self.views = os.path.join(self.root, "views")  # where views' stages are made: the launcher's /views
        os.mkdir(self.views, 0o755)
        os.mkdir(os.path.join(self.root, "stage"))
        self.stage = _Stage.create(os.path.join(self.root, "stage"), None, ("launcher.py",))
        self.broken: str | None = None  # why it stopped being used
        self.forked = 0  # views forked
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._popen: subprocess.Popen | None = None
        self._init_fd: int | None = None
        self.keep: list[str] = []

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        info_r, info_w = os.pipe()
        dirs = python_dirs()
        self.keep = [d for d in dirs if d.startswith("/tmp/")]  # bound again over each view's fresh /tmp
        argv = [*bwrap_args(runtime=self.stage.runtime, submission=self.stage.submission, python_dirs=dirs,
                            hidden=hidden_paths(dirs), empty_dir=self.stage.empty, env=worker_env("/tmp"),
                            limits=self.limits, privileged=True, uid=0, gid=0, info_fd=info_w,
                            bwrap=shutil.which("bwrap") or "bwrap", caps=("CAP_SYS_ADMIN",),
                            binds=((self.views, VIEWS),)),
                sys.executable, "-I", "-B", "-X", "utf8", f"{SANDBOX_RUNTIME}/launcher.py",
                json.dumps({"sock": theirs.fileno()})]
        log = open(os.path.join(self.root, "launcher.log"), "wb")
        try:
            self._popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                           pass_fds=(theirs.fileno(), info_w), start_new_session=True,
                                           close_fds=True, env={"PATH": os.defpath}, cwd=self.stage.home)
        except OSError as e:
            raise LauncherError(f"the launcher could not start: {e}") from None
        finally:
            log.close()
            theirs.close()
            os.close(info_w)
        deadline = time.monotonic() + self.limits.start_timeout
        child = _read_info(info_r, deadline).get("child-pid")
        os.close(info_r)
        if type(child) is int:
            self._init_fd = _pidfd(child)
        self._sock = ours
        ours.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            ready = ours.recv(16)
        except OSError:
            ready = b""
        if ready != b"ready":
            raise LauncherError(f"the launcher did not start: {log_tail(os.path.join(self.root, 'launcher.log'))}")

    def fork(self, stage_root: str, config: dict, fds: tuple[int, int, int]) -> tuple[int, int, socket.socket]:
        """Fork the worker of the view staged at `stage_root`, on these (request, reply, output) pipe ends.

        Returns (pid of the view's pid 1 as seen here, a pidfd of it, the view's control socket).
        Raises LauncherError (and stops using the launcher) when that fails.
        """
        with self._lock:
            if self.broken:
                raise LauncherError(self.broken)
            try:
                if self._sock is None:
                    self._start()
                return self._fork(stage_root, config, fds)
            except (LauncherError, OSError) as e:
                self.broken = str(e) if isinstance(e, LauncherError) else f"the launcher failed: {e}"
                self._stop()
                raise LauncherError(self.broken) from None

    def _fork(self, stage_root: str, config: dict, fds: tuple[int, int, int]) -> tuple[int, int, socket.socket]:
        if os.path.dirname(stage_root) != self.views:
            raise ValueError(f"{stage_root} is not staged under {self.views}")
        ctl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ctl.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # before the view's first message
        request = {**config, "view": f"{VIEWS}/{os.path.basename(stage_root)}/submission", "keep": self.keep}
        try:
            socket.send_fds(self._sock, [json.dumps(request).encode()], [*fds, theirs.fileno()])
        finally:
            theirs.close()
        ctl.settimeout(self.limits.start_timeout)
        try:
            data, ancillary, _, _ = ctl.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        except OSError as e:
            ctl.close()
            raise LauncherError(f"the launcher did not fork the view ({e})") from None
        pid = next((struct.unpack("3i", d[:12])[0] for level, kind, d in ancillary
                    if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS), None)
        try:
            message = json.loads(data) if data else {"error": "no answer"}
        except ValueError:
            message = {"error": "an unreadable answer"}
        if not message.get("ready") or not pid:
            ctl.close()
            raise LauncherError(f"the launcher could not make the view's sandbox: {message.get('error', message)}")
        pidfd = os.pidfd_open(pid)  # the view's pid 1 waits for the "k" below: it is this very process
        ctl.sendall(b"k")
        self.forked += 1
        return pid, pidfd, ctl

    def _stop(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._init_fd is not None:
            kill_pidfd(self._init_fd, 5)
            os.close(self._init_fd)
            self._init_fd = None
        if self._popen is not None:
            try:
                os.killpg(self._popen.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self._popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self._popen = None

    def close(self) -> None:
        """Kill the launcher sandbox (and any view still in it) and delete its folder."""
        with self._lock:
            self.broken = self.broken or "closed"
            self._stop()
            shutil.rmtree(self.root, ignore_errors=True)


def fork_worker(launcher: Launcher, stage_root: str, limits: Limits, drop: list[int]) -> _ForkedProcess:
    """The worker of the view staged at `stage_root`, forked by `launcher`, its pipes connected here."""
    req_r, req_w = os.pipe()
    resp_r, resp_w = os.pipe()
    out_r, out_w = os.pipe()
    for fd in (req_w, resp_w, out_w):
        _set_pipe_size(fd)
    config = {"limits": limits.rlimits(), "drop": drop, "max_bytes": limits.message_bytes, "tmp_size": limits.tmp_size}
    try:
        pid, pidfd, ctl = launcher.fork(stage_root, config, (req_r, resp_w, out_w))
    except BaseException:
        for fd in (req_w, resp_r, out_r):
            os.close(fd)
        raise
    finally:
        for fd in (req_r, resp_w, out_w):
            os.close(fd)
    for fd in (req_w, resp_r, out_r):
        os.set_blocking(fd, False)
    drain = _OutputDrain(out_r, limits.output_bytes, limits.output_flood)
    drain.start()
    return _ForkedProcess(popen=None, req_w=req_w, resp_r=resp_r, exit_fd=pidfd, init_fd=None, init_pid=pid,
                          drain=drain, ctl=ctl)


@dataclass
class _ForkedProcess(_Process):
    """A view's worker forked by the launcher: `exit_fd` is a pidfd of the view's pid 1, `ctl` its control socket."""

    ctl: socket.socket | None = None
    status: int | None = None

    def exit_status(self, timeout: float = 5.0) -> int | None:
        """The worker's exit status (128 + signal when killed), as its pid 1 reported it; None if unknown."""
        if self.status is None and self.ctl is not None and self.ctl.fileno() >= 0:
            if select.select([self.ctl], [], [], timeout)[0]:
                try:
                    message = json.loads(self.ctl.recv(4096) or b"{}")
                except (OSError, ValueError):
                    message = {}
                status = message.get("status") if isinstance(message, dict) else None
                if type(status) is int:
                    self.status = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return self.status

    def kill(self) -> None:
        """SIGKILL the view's pid 1: its pid namespace, every process the view started, dies with it."""
        if self.closed:
            return
        self.closed = True
        if self.exit_fd is not None:
            kill_pidfd(self.exit_fd, 5)
        for fd in (self.req_w, self.resp_r, self.exit_fd):
            if fd is not None:
                os.close(fd)
        if self.ctl is not None:
            self.ctl.close()
        self.drain.wait_eof(1.0)
        self.drain.stop()
