"""The trusted session server (trusted_fork.py's other half): imports once, then forks one grading session per request.

Runs as ``python -I -c BOOT ROOT FD`` (trusted_fork.py), the grader's ROOT first on sys.path. It
imports pytest, hypothesis, numpy, the plugin and dlref, then serves requests on the
SOCK_SEQPACKET socket FD. A request is JSON ``{"argv", "env", "cwd", "log"}`` with one fd
attached, the requester's reply socket; the server forks the session, answers ``{"pid": n}``
there, and ``{"exit": status}`` once it has reaped the session (a requester that sends
``kill`` has its session killed first). It runs no test and no student code itself, and
ends, killing its sessions, when the process that started it closes the socket or ends.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys

FORKED = False  # set in a forked session (reporting.py says so in the results)
PRELOAD = ("numpy", "pytest", "_pytest.python", "hypothesis", "hypothesis.strategies", "autograder.suites.plugin",
           "autograder.suites.student", "dlref")


def session(request: dict, close: list[int], server: int) -> None:
    """The forked child: become the trusted session run_suites would have started, run pytest, exit."""
    import atexit
    import ctypes

    global FORKED
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: dies with the (single-threaded) server
    except Exception:  # noqa: BLE001 - not Linux
        pass
    if os.getppid() != server:
        os._exit(1)  # the server ended before the line above could take effect
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in close:
        os.close(fd)
    FORKED = True
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    argv = list(request["argv"])
    sys.argv = ["pytest", *argv]
    import pytest

    try:
        status = int(pytest.main(argv))
    finally:
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(status)


def main() -> None:
    # No PR_SET_PDEATHSIG here: it follows the thread that started the server (a grading slot's,
    # which ends with its pool). The server ends when its requests socket does, which the kernel
    # closes when the process that started it ends, however it ends; its sessions die with it.
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    import gc

    gc.collect()
    gc.freeze()  # what every session shares stays out of its collector's way (which would also copy its pages)
    requests = socket.socket(fileno=int(sys.argv[1]))
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    live: dict[int, socket.socket] = {}
    server = os.getpid()
    requests.sendall(b"ready")
    while True:
        ready, _, _ = select.select([requests, wake_r, *live.values()], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        for reply in [s for s in ready if s not in (requests, wake_r)]:
            pid = next(p for p, s in live.items() if s is reply)
            if reply.recv(16) in (b"kill", b""):
                os.kill(pid, signal.SIGKILL)
        if requests in ready:
            try:
                data, fds, _, _ = socket.recv_fds(requests, 1 << 20, 1)
            except OSError:
                data, fds = b"", []
            if not data:
                for pid in live:
                    os.kill(pid, signal.SIGKILL)
                os._exit(0)
            reply = socket.socket(fileno=fds[0])
            pid = os.fork()
            if pid == 0:
                try:
                    session(json.loads(data), [requests.fileno(), wake_r, wake_w, reply.fileno(),
                                               *(s.fileno() for s in live.values())], server)
                finally:
                    os._exit(70)
            live[pid] = reply
            reply.sendall(json.dumps({"pid": pid}).encode())
        while live:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            reply = live.pop(pid, None)
            if reply is not None:
                try:
                    reply.sendall(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
                except OSError:
                    pass
                reply.close()
