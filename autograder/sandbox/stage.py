"""One worker process's parts: the staged copy of the submission, the output drain, the running process."""
from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import termios
import threading
import time
from dataclasses import dataclass, field

from autograder.inside.protocol import format_bytes

from autograder.sandbox.limits import HERE, RUNTIME_FILES, SUBMISSION_MAX_BYTES, SUBMISSION_MAX_ENTRIES

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
            # pid 1 reports its exit only once every process of its namespace is gone; bwrap
            # then reaps it and exits by itself.
            kill_pidfd(self.init_fd, 5)
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


def kill_pidfd(fd: int, wait: float) -> None:
    """SIGKILL the process of pidfd `fd` and wait up to `wait` s for its exit (a pid 1: its whole namespace's)."""
    try:
        signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    select.select([fd], [], [], wait)


def log_tail(path: str) -> str:
    """The end of a helper process's log, for the message saying why it did not start."""
    try:
        with open(path, "rb") as f:
            return f.read()[-1500:].decode(errors="replace").strip() or "no output"
    except OSError:
        return "no output"


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
