"""What the host side says about a worker: its error replies checked, and made into messages for the student."""
from __future__ import annotations

import signal

from autograder.inside.protocol import ProtocolError, format_bytes
from autograder.sandbox.limits import _WORKER_KINDS


def death_message(worker, proc, where: str) -> str:
    """Why the worker process is gone, for the student."""
    rc = proc.exit_status(timeout=2)
    if rc is None:
        return f"the worker process stopped answering {where}"
    sig = -rc if rc < 0 else (rc - 128 if worker.sandboxed and rc > 128 else None)
    if sig:
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        cpu = worker.limits.cpu_seconds
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

def error_message(worker, reply: dict, module: str, function: str, importing: bool) -> tuple[str, str]:
    """(kind, message) of the worker's error reply, for the student."""
    kind, typ, msg, line = reply["kind"], reply["type"], reply["message"], reply.get("line")
    file = reply.get("file") or f"{module}.py"
    at = f" ({file}, line {line})" if line else ""
    if importing and kind == "exit":
        return "import_error", f"{module}.py called {msg} while being imported"
    limit = worker.limits.address_space
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
        return kind, f"{function} raised {typ}: {msg}{at}{os_hint(worker, typ, msg)}"
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
        return "cpu_time", cpu_time_message(function, None)
    return kind, msg

def os_hint(worker, typ: str, msg: str) -> str:
    """What the sandbox allows, when an OS error is about one of its limits."""
    if "File too large" in msg and worker.limits.file_size:
        return f" (the sandbox allows files up to {format_bytes(worker.limits.file_size)})"
    if "No space left" in msg and worker.sandboxed:
        return f" (the sandbox's /tmp holds {format_bytes(worker.limits.tmp_size)})"
    if worker.sandboxed and "Read-only file system" in msg:
        return " (in the sandbox only /tmp is writable)"
    return ""


def check_names(*names) -> None:
    """ValueError unless each module or function name is an identifier (it is looked up in the worker)."""
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"invalid module or function name: {name!r}")


def cpu_time_message(function: str, cpu: float | None) -> str:
    used = f"{cpu:g} s of CPU time, this call's limit" if cpu else "its CPU time"
    return f"{function} was stopped after {used} (an infinite loop?)"


def check_reply(reply, rid: int, call: bool) -> None:
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
