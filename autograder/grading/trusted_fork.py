"""Trusted grading sessions forked from a server that has pytest, hypothesis, numpy and the suites imported.

A trusted session spends about 0.3 s of CPU on imports before its first test, and a local
`dlgrade grade` starts one per task. The session server (session_server.py), started once per
run, pays them once and forks each session: still a process of its own, from the same state,
with the environment run_suites gives it (trusted_env) and the isolated import path of
`python -I` with the grader first. The server runs no test and no student code. Local grading
slots only: a Dask task starts its own session as before.
"""
from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

_BOOT = ("import sys; sys.path.insert(0, sys.argv.pop(1))\n"
         "from autograder.grading.session_server import main; main()")
START_TIMEOUT = 60.0


class ServerFailed(RuntimeError):
    """The server could not start or fork a session (the caller starts the session itself)."""


class _Server:
    def __init__(self, root: str, env: dict[str, str]):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lock = threading.Lock()
        self.folder = tempfile.mkdtemp(prefix="dlgrade-sessions-")
        with open(os.path.join(self.folder, "server.log"), "wb") as log:
            self.popen = subprocess.Popen([sys.executable, "-I", "-c", _BOOT, root, str(theirs.fileno())],
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.folder,
                                          pass_fds=(theirs.fileno(),), env=env)
        theirs.close()
        self.sock = ours
        ours.settimeout(START_TIMEOUT)
        try:
            ready = ours.recv(16)
        except OSError:
            ready = b""
        if ready != b"ready":
            self.close()
            raise ServerFailed(f"the session server did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        # sandbox/stage.py's log_tail, again: grading/ is reached from reports/, which must never reach sandbox/.
        try:
            with open(os.path.join(self.folder, "server.log"), "rb") as f:
                return f.read()[-1500:].decode(errors="replace").strip() or "no output"
        except OSError:
            return "no output"

    def run(self, request: dict, timeout: float | None) -> int | None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with ours:
            try:
                with self.lock:
                    socket.send_fds(self.sock, [json.dumps(request).encode()], [theirs.fileno()])
            finally:
                theirs.close()
            ours.settimeout(START_TIMEOUT)
            try:
                started = json.loads(ours.recv(4096) or b"{}")
            except (OSError, ValueError):
                started = {}
            if "pid" not in started:
                raise ServerFailed("the session server did not fork the session")
            ours.settimeout(timeout)
            try:
                ended = ours.recv(4096)
            except TimeoutError:  # past its time: the server kills it, then reports its end
                ours.sendall(b"kill")
                ours.settimeout(START_TIMEOUT)
                ours.recv(4096)
                return None
            if not ended:
                raise ServerFailed("the session server ended while a session ran")
            return int(json.loads(ended)["exit"])

    def close(self) -> None:
        self.sock.close()  # the server kills its sessions and exits
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


_lock = threading.Lock()
_server: _Server | None = None


def run(argv: list[str], env: dict[str, str], cwd: str, log: str, root: str, timeout: float | None,
        server_env: dict[str, str]) -> int | None:
    """pytest.main(argv) in a forked trusted session; its exit status, or None when it ran past `timeout` (killed).

    `server_env`: the server's environment, when it is started. Raises ServerFailed when no session
    could be forked (the server is started again next time).
    """
    global _server
    with _lock:
        if _server is None or _server.popen.poll() is not None:
            if _server is None:
                atexit.register(close)
            else:
                _server.close()  # it ended (killed?): its socket too, before a new one starts
            _server = None  # stays so if the new one cannot start
            _server = _Server(root, server_env)
        server = _server
    try:
        return server.run({"argv": argv, "env": env, "cwd": cwd, "log": log}, timeout)
    except (ServerFailed, OSError) as e:
        with _lock:
            if _server is server:
                _server = None
        server.close()
        raise ServerFailed(f"{e}: {server.log_tail()}") from None


def close() -> None:
    """Stop the server (at exit): it kills any session still running."""
    global _server
    with _lock:
        server, _server = _server, None
    if server is not None:
        server.close()
