"""The worker: the only process that imports student code (run inside the sandbox).

Standalone on purpose (stdlib + numpy + the ``protocol.py`` next to it): it is
copied into the sandbox and must not import ``autograder`` or ``dlref``.

Usage: ``python -I -B worker.py CONFIG_JSON``, where the config names the
request fd (read), the response fd (write), the submission directory, the
rlimits, the uid/gid to drop to when started as root, and the message cap.
Its stdout/stderr (fds 1 and 2) are the trusted side's capture pipe.

Start-up, before any student code: apply the rlimits; drop root (setgroups,
setgid, setuid, then check root cannot be regained); move the protocol fds
to high close-on-exec numbers and point fd 0 at /dev/null, so student prints
can only reach the capture pipe; import numpy and the protocol; only then put
the submission directory at ``sys.path[0]``.

Requests (one frame each) and replies::

    {"op": "hello"} / {"op": "ping"}          -> {"ok": true, "worker": "dlgrade", "uid": ..}
    {"op": "import", "module": "conv"}        -> {"ok": true} or an error
    {"id": n, "module": "conv", "function": "conv2d_forward", "args": [..], "kwargs": {..}}
        -> {"id": n, "ok": true, "value": .., "mutated": [..], "seconds": .., "warnings": [..]}
        -> {"id": n, "ok": false, "kind": "exception" | "not_implemented" | "import_error" |
            "missing_function" | "not_submitted" | "unserializable" | "too_large" | "memory" |
            "exit", "type": "ValueError", "message": "..", "line": 12, "traceback": "..",
            "raiser": "_helper", "file": "conv.py"}   (the innermost student frame, when there is one)
    {"id": n, "op": "map", "module": "conv", "function": "conv2d_forward",
     "calls": [[args, kwargs], ..], "cpu": 0.5}
        -> as one call whose "value" is the list of the calls' values, in order; the first
           call that fails (or mutates an argument) ends it, its position in "index".
           "cpu" (optional): seconds of CPU time each call may use; a call that uses more
           is stopped, kind "cpu_time" (the trusted side then kills this process, as after
           a timeout). CPU time does not depend on the machine's load, so a tight limit
           stops a busy loop early without failing slow-but-finite code on a busy machine.
    {"id": n, "op": "batch", "calls": [[module, function, args, kwargs], ..]}
        -> as one call whose "value" is the list of the calls' own replies (as a call's, without
           "id"), in order, up to and including the first that fails or mutates an argument.
    {"id": n, "op": "driver", "driver": "cnn_driver", "function": "train", "module": "cnn" | null,
     "args": [..], "kwargs": {..}}
        -> as a call, of `cnn_driver.train(<the student's cnn module>, *args, **kwargs)` (no
           module argument when "module" is null); an error names in "entry" the outermost
           student function in its traceback (e.g. "build_model").

Drivers are grader files shipped next to this one (the sandbox copies only those the
trusted side asked for); they are loaded by path, so no submission file can stand in.

Nothing this process reports can be trusted: student code runs in it and
can rewrite any of it (including the ``mutated`` list and the timings). The
trusted side only relies on it for feedback, never for isolation.
"""
from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import time
import traceback
import warnings

TRACEBACK_CHARS = 8000
MESSAGE_CHARS = 2000
MAX_WARNINGS = 20
PROTOCOL_VERSION = 1


def _clip(text: str, limit: int) -> str:
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more characters]"


def _safe_str(obj) -> str:
    try:
        return str(obj)
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not take the worker down
        return f"<{type(obj).__name__} whose str() failed>"


class Worker:
    """Answers requests for one submission directory."""

    def __init__(self, req: int, resp: int, submission: str, max_bytes: int, runtime: str = ""):
        import arguments  # the copies next to this file
        import protocol

        self.protocol, self.arguments = protocol, arguments
        self.req, self.resp = req, resp
        self.submission = os.path.realpath(submission)
        self.max_bytes = max_bytes
        self.runtime = runtime
        self.modules: dict[str, object] = {}
        self.drivers: dict[str, object] = {}

    # --- student frames and messages -------------------------------------------
    def _is_student(self, filename: str) -> bool:
        return os.path.realpath(filename).startswith(self.submission + os.sep)

    def _short(self, filename: str) -> str:
        return os.path.relpath(os.path.realpath(filename), self.submission)

    def _error(self, kind: str, exc: BaseException, skip_frames: int = 0,
               entry: bool = False) -> dict:
        frames = [f for f in traceback.extract_tb(exc.__traceback__)[skip_frames:]
                  if self._is_student(f.filename)]
        for f in frames:
            f.filename = self._short(f.filename)
        line = frames[-1].lineno if frames else None
        if isinstance(exc, SyntaxError) and exc.filename and self._is_student(exc.filename):
            exc.filename = self._short(exc.filename)
            line = exc.lineno
        tb = "".join(traceback.format_list(frames))
        try:
            tb += "".join(traceback.format_exception_only(type(exc), exc))
        except BaseException:  # noqa: BLE001
            tb += f"{type(exc).__name__}\n"
        message = exc.msg if isinstance(exc, SyntaxError) and exc.msg else _safe_str(exc)
        out = {"ok": False, "kind": kind, "type": type(exc).__name__,
               "message": _clip(message, MESSAGE_CHARS), "line": line,
               "traceback": _clip(tb, TRACEBACK_CHARS)}
        if entry and frames and frames[0].name.isidentifier() and len(frames[0].name) <= 100:
            out["entry"] = frames[0].name  # the outermost student function (driver calls)
        if frames:  # where it raised: a helper's stub is not the called function's
            out["raiser"] = _clip(frames[-1].name, 100)
            out["file"] = _clip(frames[-1].filename, 200)
        return out

    # --- operations --------------------------------------------------------------
    def load(self, name: str):
        """The student's module `name`, or an error dict."""
        if name in self.modules:
            return self.modules[name]
        path = os.path.join(self.submission, name + ".py")
        if not os.path.isfile(path) and not os.path.isfile(os.path.join(self.submission, name,
                                                                          "__init__.py")):
            kind = "not_submitted" if not os.path.lexists(path) else "import_error"
            return {"ok": False, "kind": kind, "type": "FileNotFoundError",
                    "message": f"{name}.py was not submitted" if kind == "not_submitted"
                    else f"{name}.py cannot be read inside the sandbox (a symlink out of the "
                         "submission?)", "line": None, "traceback": ""}
        try:
            module = importlib.import_module(name)
        except SystemExit as e:
            return {"ok": False, "kind": "exit", "type": "SystemExit",
                    "message": f"sys.exit({_safe_str(e.code)[:100]})",
                    "line": None, "traceback": ""}
        except MemoryError as e:
            return self._error("memory", e)
        except BaseException as e:  # noqa: BLE001 - anything at import time is the student's
            err = self._error("import_error", e)
            if "null bytes" in err["message"]:
                err["line"] = _first_null_line(path)  # Python's own line number is unreliable
            return err
        origin = getattr(module, "__file__", None) or ""
        if not self._is_student(origin):
            return {"ok": False, "kind": "import_error", "type": "ImportError",
                    "message": f"the name {name!r} clashes with a module Python already loaded",
                    "line": None, "traceback": ""}
        self.modules[name] = module
        return module

    def call(self, req: dict) -> dict:
        module = self.load(req["module"])
        if isinstance(module, dict):
            return module
        name = req["function"]
        func = getattr(module, name, None) if not name.startswith("__") else None
        if func is None or not callable(func):
            what = "does not define" if func is None else "defines a non-callable"
            return {"ok": False, "kind": "missing_function", "type": "AttributeError",
                    "message": f"{req['module']}.py {what} {name}", "line": None,
                    "traceback": ""}
        args, kwargs = list(req.get("args", [])), dict(req.get("kwargs", {}))
        snapshots = self.arguments.snapshots(func, args, kwargs)
        return self._invoke(func, args, kwargs, snapshots, cpu=req.get("cpu"))

    def _invoke(self, func, args: list, kwargs: dict, snapshots: list, entry: bool = False,
                cpu: float | None = None) -> dict:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            try:
                if cpu:
                    signal.signal(signal.SIGPROF, _cpu_time_up)
                    signal.setitimer(signal.ITIMER_PROF, cpu)
                try:
                    value = func(*args, **kwargs)
                finally:
                    if cpu:
                        signal.setitimer(signal.ITIMER_PROF, 0)
            except CpuTimeUp:
                return {"ok": False, "kind": "cpu_time", "type": "CpuTimeUp",
                        "message": f"stopped after {cpu:g} s of CPU time", "line": None, "traceback": ""}
            except NotImplementedError as e:
                return self._error("not_implemented", e, skip_frames=1, entry=entry)
            except MemoryError as e:
                return self._error("memory", e, skip_frames=1, entry=entry)
            except SystemExit as e:
                return {"ok": False, "kind": "exit", "type": "SystemExit",
                        "message": f"sys.exit({_safe_str(e.code)[:100]})", "line": None,
                        "traceback": ""}
            except BaseException as e:  # noqa: BLE001
                return self._error("exception", e, skip_frames=1, entry=entry)
            seconds = time.perf_counter() - start
        changed = [original for original, copy in snapshots if self.arguments.changed(original, copy)]
        mutated = self.arguments.labels(func, args, kwargs, changed) if changed else []
        notes = []
        for w in caught[:MAX_WARNINGS]:
            where = f" ({self._short(w.filename)}, line {w.lineno})" if self._is_student(
                w.filename) else ""
            notes.append(_clip(f"{w.category.__name__}: {_safe_str(w.message)}{where}", 300))
        return {"ok": True, "value": value, "mutated": mutated, "seconds": seconds,
                "warnings": notes}

    def map(self, req: dict) -> dict:
        """The same function over many argument lists (e.g. a numerical gradient's points): one round trip."""
        calls = req.get("calls")
        if type(calls) is not list or not all(type(c) is list and len(c) == 2 and type(c[0]) is list
                                              and type(c[1]) is dict for c in calls):
            return _malformed("map")
        cpu = req.get("cpu")
        if cpu is not None and not (type(cpu) in (int, float) and 0 < cpu < 1e6):
            return _malformed("map")
        replies = list(self._until_failure({"module": req.get("module"), "function": req.get("function"),
                                            "args": args, "kwargs": kwargs, "cpu": cpu} for args, kwargs in calls))
        if replies and (not replies[-1]["ok"] or replies[-1]["mutated"]):
            return {**replies[-1], "index": len(replies) - 1}
        notes = [w for r in replies for w in r["warnings"]][:MAX_WARNINGS]
        return {"ok": True, "value": [r["value"] for r in replies], "mutated": [],
                "seconds": sum(r["seconds"] for r in replies), "warnings": notes}

    def batch(self, req: dict) -> dict:
        """Calls of several functions (a replayed test's, see autograder/grading/replay.py): one round trip."""
        calls = req.get("calls")
        if type(calls) is not list or not all(type(c) is list and len(c) == 4 and type(c[0]) is str
                                              and type(c[1]) is str and type(c[2]) is list
                                              and type(c[3]) is dict for c in calls):
            return _malformed("batch")
        replies = list(self._until_failure({"module": module, "function": function, "args": args, "kwargs": kwargs}
                                           for module, function, args, kwargs in calls))
        seconds = sum(r["seconds"] for r in replies if r["ok"] and not r["mutated"])
        return {"ok": True, "value": replies, "mutated": [], "seconds": seconds, "warnings": []}

    def _until_failure(self, requests):
        """Each call's reply, in order, up to and including the first that fails or changes an argument."""
        for req in requests:
            reply = self.call(req)
            yield reply
            if not reply["ok"] or reply["mutated"]:
                return

    def driver(self, req: dict) -> dict:
        """`driver.function(student module, *args, **kwargs)`; see the module docstring."""
        name, function = req.get("driver"), req.get("function")
        if not (isinstance(name, str) and name.isidentifier() and isinstance(function, str)
                and function.isidentifier() and not function.startswith("_")):
            return {"ok": False, "kind": "protocol", "type": "ProtocolError",
                    "message": "malformed driver request", "line": None, "traceback": ""}
        module = self.drivers.get(name)
        if module is None:
            import importlib.util

            path = os.path.join(self.runtime, name + ".py")
            spec = importlib.util.spec_from_file_location(f"_dlgrade_driver_{name}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)  # grader code: an error here is the grader's bug
            self.drivers[name] = module
        func = getattr(module, function)
        args = list(req.get("args", []))
        if req.get("module") is not None:
            student = self.load(req["module"])
            if isinstance(student, dict):
                return student
            args.insert(0, student)
        # Errors name the student's function that failed (build_model or train), not the driver's.
        return self._invoke(func, args, dict(req.get("kwargs", {})), [], entry=True)

    def reply(self, reply: dict, rid) -> None:
        reply["id"] = rid
        reply["cpu"] = _cpu_seconds()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001 - the student may have closed or replaced it
                pass
        P = self.protocol
        try:
            P.send(self.resp, reply, max_bytes=self.max_bytes)
            return
        except P.TooLargeError as e:
            kind, message = "too_large", str(e)
        except P.UnserializableError as e:
            # The reply dict is the encoded root; name places from the returned value instead.
            kind, message = "unserializable", str(e).replace("value['value']", "value", 1)
        fallback = {"id": rid, "ok": False, "kind": kind, "type": "ProtocolError",
                    "message": _clip(message, MESSAGE_CHARS), "line": None, "traceback": "",
                    "cpu": reply["cpu"]}
        P.send(self.resp, fallback, max_bytes=self.max_bytes)

    def serve(self) -> None:
        P = self.protocol
        while True:
            try:
                req = P.recv(self.req, max_bytes=self.max_bytes)
            except EOFError:
                return
            op = req.get("op", "call")
            rid = req.get("id")
            if op in ("hello", "ping"):
                self.reply({"ok": True, "worker": "dlgrade", "protocol": PROTOCOL_VERSION,
                            "uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid()}, rid)
            elif op == "import":
                module = self.load(req["module"])
                self.reply(module if isinstance(module, dict) else {"ok": True}, rid)
            elif op == "call":
                self.reply(self.call(req), rid)
            elif op == "map":
                self.reply(self.map(req), rid)
            elif op == "batch":
                self.reply(self.batch(req), rid)
            elif op == "driver":
                self.reply(self.driver(req), rid)
            else:
                self.reply({"ok": False, "kind": "protocol", "type": "ProtocolError",
                            "message": f"unknown op {op!r}", "line": None, "traceback": ""}, rid)


class CpuTimeUp(BaseException):
    """A call used up its CPU time ("cpu" of a map request); BaseException, as `except Exception` must not end it."""


def _cpu_time_up(signum, frame):
    raise CpuTimeUp()


def _malformed(op: str) -> dict:
    return {"ok": False, "kind": "protocol", "type": "ProtocolError", "message": f"malformed {op} request",
            "line": None, "traceback": ""}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _first_null_line(path: str):
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return None
    pos = data.find(b"\0")
    return data.count(b"\n", 0, pos) + 1 if pos >= 0 else None


def main(argv: list[str]) -> None:
    cfg = json.loads(argv[1])
    sys.dont_write_bytecode = True
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)  # the grader's files beside this one (no student file is importable yet)
    import confine

    confine.apply_limits(cfg.get("limits", {}))
    confine.drop_privileges(cfg.get("drop"))
    req, resp = confine.move_fds(int(cfg["req"]), int(cfg["resp"]))
    import numpy  # noqa: F401 - loaded before the submission can shadow it

    worker = Worker(req, resp, cfg["submission"], int(cfg["max_bytes"]), runtime=here)
    sys.path.remove(here)
    sys.path.insert(0, worker.submission)
    os.chdir(cfg.get("cwd") or worker.submission)
    worker.serve()


if __name__ == "__main__":
    main(sys.argv)
