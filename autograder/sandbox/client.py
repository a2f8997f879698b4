"""The host side's handle on one sandboxed worker: start it, send calls, read replies, kill and restart it.

The threat model and what the sandbox guarantees are in this package's docstring (sandbox/__init__.py).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref

from autograder.inside import protocol
from autograder.inside.protocol import ProtocolError, TooLargeError, format_bytes
from autograder.sandbox.bwrap import (ENV_REQUIRE_DROP, bwrap_args, bwrap_available, bwrap_problem,  # noqa: F401
                                      drop_problem, hidden_paths, python_dirs, worker_env)
from autograder.sandbox.limits import (KINDS, SANDBOX_OUTPUT, SANDBOX_RUNTIME, SANDBOX_SUBMISSION,  # noqa: F401
                                       HERE, CallResult, GiB, KiB, Limits, MiB)
from autograder.sandbox.messages import check_names, check_reply, cpu_time_message, death_message, error_message
from autograder.sandbox.stage import _Died, _Flooded, _OutputDrain, _pidfd, _Process, _read_info, _set_pipe_size, _Stage, _SubmissionTooLarge

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
                 hide: tuple[str, ...] = (), launcher=None):
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
        # A view's worker forked by the session's launcher (sandbox/launcher.py) instead of a bwrap of
        # its own: only for a plain view (no drivers, devices, output folder or other changes).
        plain = not (self.drivers or self.output_dir or self.devices or self.hide or self.env_changes)
        self.launcher = launcher if self.sandboxed and plain and os.geteuid() == 0 else None
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
        check_names(module, function)
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
        check_names(module, function)
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
        check_names(module, *(function for function, _, _ in calls))
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
                check_reply(reply, 0, call=True)  # clips its texts too
                if reply["ok"]:
                    seconds = reply.get("seconds")
                    if type(seconds) not in (int, float) or not 0 <= seconds <= result.seconds:
                        seconds = result.seconds
                    out.append(CallResult(ok=True, value=reply["value"], mutated=list(reply["mutated"]),
                                          seconds=float(seconds), warnings=list(reply["warnings"])))
                else:
                    kind, message = error_message(self, reply, module, function, importing=False)
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
        check_names(function, *(() if module is None else (module,)))
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
            check_reply(reply, rid, call=not importing)
        except TimeoutError:
            what = (f"{module}.py did not finish importing within {limit:g} s "
                    "(an infinite loop at module level?)") if importing else (
                f"{function} did not return within {limit:g} s (an infinite loop?)")
            return self._fail(proc, "timeout", what, started)
        except _Flooded:
            return self._fail(proc, "output", f"the code printed more than {format_bytes(lim.output_flood)} "
                                              f"{where} (printing inside a loop?); the worker was stopped", started)
        except (_Died, EOFError, BrokenPipeError):
            return self._fail(proc, "crashed", death_message(self, proc, where), started)
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
            return self._fail(proc, "cpu_time", cpu_time_message(function, cpu), started, index)
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
        kind, message = error_message(self, reply, module, function, importing)
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
        forked = self.launcher is not None and not self.launcher.broken
        root = tempfile.mkdtemp(prefix="dlgrade-", dir=self.launcher.views if forked else None)
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
        launcher = self.launcher
        if launcher is not None and not launcher.broken and os.path.dirname(self._stage.root) == launcher.views:
            from autograder.sandbox.launcher import LauncherError, fork_worker

            try:  # the view's worker, forked into namespaces of its own (sandbox/launcher.py)
                proc = self._proc = self._res["proc"] = fork_worker(launcher, self._stage.root, self.limits,
                                                                    [self.uid, self.gid])
                return self._handshake(proc, started, time.monotonic() + self.limits.start_timeout)
            except LauncherError:
                pass  # the launcher is no longer used (its `broken` says why): a bwrap of its own
        return self._start_bwrap(started)

    def _start_bwrap(self, started: float) -> _Process | CallResult:
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
        config = {"req": req_r, "resp": resp_w, "max_bytes": lim.message_bytes, "limits": lim.rlimits(),
                  "drop": drop}
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
        return self._handshake(proc, started, deadline)

    def _handshake(self, proc: _Process, started: float, deadline: float) -> _Process | CallResult:
        """The worker's hello; a worker that does not answer it is the grader's failure."""
        try:
            protocol.send(proc.req_w, {"id": 0, "op": "hello"}, deadline=deadline)
            proc.wait_readable(deadline)
            hello = protocol.recv(proc.resp_r, deadline=deadline)
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
