"""autograder.sandbox.client: hostile submissions against the bubblewrap worker (and the unsandboxed one).

Each hostile behaviour is written as a student file in tmp_path. Every test
checks the kind and message of the failing call, that the next call on the
same Worker works (the worker was restarted if needed), and that nothing
outside the sandbox changed.
"""
import os
import resource
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from autograder.sandbox import bwrap as S
from autograder.sandbox.client import CallResult, Limits, Worker
from autograder.sandbox.launcher import Launcher

PROJECT = Path(__file__).resolve().parents[2]
VENV_SITE = Path(np.__file__).resolve().parents[1]
needs_bwrap = pytest.mark.skipif(not S.bwrap_available(),
                                 reason=f"bubblewrap sandbox unavailable: {S.bwrap_problem()}")
FAST = Limits(timeout=2.0)  # short wall clock so the hang tests stay quick

SUBMISSION = {
    "good.py": """
        import numpy as np

        def echo(*args, **kwargs):
            return args, kwargs

        def add(a, b):
            return a + b

        def ids():
            import os
            return [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]

        def noisy():
            print("hello from the student")
            return 42

        def overflow():
            return np.exp(np.array([1000.0]))

        def scale_in_place(x):
            x *= 2
            return float(x.sum())

        def params_in_place(params, lr):
            params["W1"] -= lr
            return None

        def fails(x):
            return helper(x)

        def helper(x):
            raise ValueError(f"bad shape {x.shape}")

        def stub(x):
            raise NotImplementedError

        not_a_function = 3
    """,
    "peek.py": """
        import importlib, os, socket

        def try_paths(paths):
            out = {}
            for p in paths:
                try:
                    with open(p, "rb") as f:
                        f.read(10)
                    out[p] = "read"
                except Exception as e:
                    out[p] = type(e).__name__
            return out

        def try_writes(paths):
            out = {}
            for p in paths:
                try:
                    with open(p, "w") as f:
                        f.write("# inert line written by a dlgrade sandbox test\\n")
                    out[p] = "written"
                except Exception as e:
                    out[p] = type(e).__name__ + ": " + str(e)
            return out

        def try_imports(names):
            out = {}
            for n in names:
                try:
                    importlib.import_module(n)
                    out[n] = "imported"
                except Exception as e:
                    out[n] = type(e).__name__
            return out

        def listing(path):
            try:
                return sorted(os.listdir(path))
            except Exception as e:
                return type(e).__name__

        def connect(host, port):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect((host, port))
                return "connected"
            except OSError as e:
                return type(e).__name__ + ": " + str(e)
            finally:
                s.close()

        def interfaces():
            return [name for _, name in socket.if_nameindex()]

        def pids():
            return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

        def numpy_origin():
            import builtins, numpy
            return [numpy.__file__, float(numpy.ones(2).sum()),
                    hasattr(builtins, "DLGRADE_SITECUSTOMIZE_RAN")]
    """,
    "hostile.py": """
        import os, resource, signal, sys, time
        import numpy as np

        # The destructive functions refuse to run outside an isolated sandbox, so a broken
        # sandbox fails these tests instead of harming the machine running them.
        def isolated():
            return os.getpid() < 10 and os.getuid() != 0

        def limited(which):
            return resource.getrlimit(which)[1] != resource.RLIM_INFINITY

        def spin():
            while True:
                pass

        def stubborn():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            while True:
                pass

        def exit0():
            sys.exit(0)

        def exit3():
            os._exit(3)

        def kill_parent():
            if not isolated() or os.getppid() != 1:
                return "refused: not sandboxed"
            os.kill(os.getppid(), signal.SIGKILL)
            return "parent signalled"

        def kill_init():
            if not isolated():
                return "refused: not sandboxed"
            os.kill(1, signal.SIGKILL)
            return "pid 1 signalled"

        def kill_everything():
            if not isolated():
                return "refused: not sandboxed"
            os.kill(-1, signal.SIGKILL)
            return "everything signalled"

        def allocate_6gb():
            if not limited(resource.RLIMIT_AS):
                return "refused: no memory limit"
            a = np.ones(6 * 10**9 // 8)
            return float(a.sum())

        def write_2gb(path):
            if not limited(resource.RLIMIT_FSIZE):
                return "refused: no file size limit"
            chunk = b"x" * (1 << 20)
            with open(path, "wb") as f:
                for _ in range(2048):
                    f.write(chunk)
            return "wrote 2 GB"

        def fill_tmp():
            if not limited(resource.RLIMIT_FSIZE):
                return "refused: no file size limit"
            chunk = b"z" * (1 << 20)
            for i in range(4):
                with open(f"/tmp/part{i}", "wb") as f:
                    for _ in range(60):
                        f.write(chunk)
            return "wrote 240 MB"

        def print_200mb():
            line = "y" * (1 << 20)
            for _ in range(200):
                print(line)
            return "done printing"

        def huge_array():
            return np.zeros(40_000_000)  # 320 MB, over the 256 MiB message cap

        def broadcast_view():
            return np.broadcast_to(np.float64(1.0), (10**6, 10**6))

        def object_array():
            return np.array([1, "a", None], dtype=object)

        class Result:
            pass

        def instance():
            return Result()

        def function():
            return lambda x: x

        def nested_function():
            return {"ok": [1, 2, {"bad": print}]}

        def forge_reply():
            # Garbage frames on every fd that might be the reply pipe.
            for fd in range(3, 64):
                try:
                    os.write(fd, (16).to_bytes(8, "big") + b"\\x00" * 16)
                except OSError:
                    pass
            return "forged"
    """,
    "numpy.py": """
        raise RuntimeError("a shadow numpy was imported")
    """,
    "protocol.py": """
        raise RuntimeError("a shadow protocol was imported")
    """,
    "sitecustomize.py": """
        import builtins
        builtins.DLGRADE_SITECUSTOMIZE_RAN = True
    """,
    "hang_import.py": """
        while True:
            pass
    """,
    "syntax.py": """
        def f(x):
            return x +

        def g():
            return 1
    """,
    "crash_import.py": """
        import os
        os._exit(7)
    """,
}


def line_of(name: str, snippet: str) -> int:
    """1-based line of `snippet` in the submission file `name` as written."""
    lines = textwrap.dedent(SUBMISSION[name]).lstrip().splitlines()
    return next(i for i, line in enumerate(lines, 1) if snippet in line)


def write_submission(root: Path, files: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture(scope="module")
def submission(tmp_path_factory) -> Path:
    root = write_submission(tmp_path_factory.mktemp("submission"), SUBMISSION)
    (root / "garbage.py").write_bytes(b"def ok():\n    return 1\n\x89PNG\r\n\x1a\n\x00\xff\xfe binary")
    (root / "latin.py").write_bytes(b"def ok():\n    return 1\n\x89PNG\r\n\x1a\n")
    (root / "leak.py").symlink_to(PROJECT / "dlref" / "conv.py")
    (root / "reference.txt").symlink_to(PROJECT / "dlref" / "conv.py")
    return root


@pytest.fixture(scope="module", params=["bwrap", "forked"])
def worker(request, submission):
    """A worker in a bubblewrap of its own, and one forked by a launcher (sandbox/launcher.py, as root)."""
    if not S.bwrap_available():
        pytest.skip(f"bubblewrap sandbox unavailable: {S.bwrap_problem()}")
    if request.param == "bwrap":
        with Worker(submission, FAST, sandbox="bwrap") as w:
            yield w
        return
    if os.geteuid() != 0:
        pytest.skip("the launcher forks views only for a grader run by root")
    launcher = Launcher(FAST)
    try:
        with Worker(submission, FAST, sandbox="bwrap", launcher=launcher) as w:
            yield w
        assert launcher.forked and not launcher.broken, launcher.broken
    finally:
        launcher.close()


def assert_alive(w: Worker):
    """The next call on the same Worker works (restarted if it had to be)."""
    r = w.call("good", "add", 2, 3)
    assert r.ok and r.value == 5, r


def sandbox_namespace(w: Worker) -> str:
    return os.readlink(f"/proc/{w.sandbox_pid}/ns/pid")


def processes_in_namespace(ns: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") == ns:
                    out.append(int(entry))
            except OSError:
                pass
    return out


def processes_with(marker: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        out.append(int(entry))
            except OSError:
                pass
    return out


# --- ordinary calls -----------------------------------------------------------------

@needs_bwrap
def test_plain_data_round_trip(worker):
    x = np.arange(6.0).reshape(2, 3)
    r = worker.call("good", "echo", x, (1, "two"), k={"W1": np.eye(2)})
    assert r.ok and r.kind is None and r.mutated == []
    (args, kwargs) = r.value
    np.testing.assert_array_equal(args[0], x)
    assert args[1] == (1, "two") and type(args[1]) is tuple
    np.testing.assert_array_equal(kwargs["k"]["W1"], np.eye(2))
    assert r.seconds >= 0 and r.to_dict()["value_type"] == "tuple"


@needs_bwrap
def test_student_code_runs_as_an_unprivileged_user(worker):
    r = worker.call("good", "ids")
    assert r.ok
    uid, euid, gid, egid, groups = r.value
    assert 0 not in (uid, euid, gid, egid) and 0 not in groups


@needs_bwrap
def test_stdout_and_warnings_are_captured(worker):
    r = worker.call("good", "noisy")
    assert r.ok and r.value == 42 and r.stdout == "hello from the student\n"
    r = worker.call("good", "overflow")
    assert r.ok and np.isinf(r.value[0])
    assert any("RuntimeWarning: overflow" in w and "good.py" in w for w in r.warnings)


@needs_bwrap
def test_in_place_mutation_is_reported(worker):
    r = worker.call("good", "scale_in_place", np.ones(3))
    assert r.ok and r.value == 6.0 and r.mutated == ["x"]
    r = worker.call("good", "params_in_place", {"W1": np.ones(2), "b1": np.zeros(2)}, lr=0.5)
    assert r.ok and r.mutated == ["params['W1']"]
    r = worker.call("good", "add", np.ones(2), np.ones(2))
    assert r.ok and r.mutated == []


@needs_bwrap
def test_exception_shows_student_frames_only(worker):
    r = worker.call("good", "fails", np.zeros((2, 3)))
    assert r.kind == "exception"
    raise_line = line_of("good.py", 'raise ValueError(f"bad shape')
    assert r.message == f"fails raised ValueError: bad shape (2, 3) (good.py, line {raise_line})"
    assert f'File "good.py", line {line_of("good.py", "return helper(x)")}, in fails' in r.traceback
    assert f'File "good.py", line {raise_line}, in helper' in r.traceback
    assert "worker.py" not in r.traceback and "/submission" not in r.traceback


@needs_bwrap
def test_not_implemented_missing_function_and_not_submitted(worker):
    r = worker.call("good", "stub", 1.0)
    assert r.kind == "not_implemented" and "stub is not implemented yet" in r.message
    r = worker.call("good", "nope")
    assert r.kind == "missing_function" and r.message == "good.py does not define nope"
    r = worker.call("good", "not_a_function")
    assert r.kind == "missing_function" and "non-callable" in r.message
    r = worker.call("conv", "conv2d_forward", np.zeros((1, 3, 3, 1)))
    assert r.kind == "not_submitted" and r.message == "conv.py was not submitted"
    assert_alive(worker)


def test_missing_submission_folder(tmp_path):
    with Worker(tmp_path / "absent", FAST, sandbox="none") as w:
        r = w.call("conv", "conv2d_forward")
    assert r.kind == "not_submitted" and "does not exist" in r.message


# --- what the sandbox hides -----------------------------------------------------------

@needs_bwrap
def test_project_files_are_not_visible(worker):
    paths = [str(PROJECT / p) for p in ("dlref/conv.py", "dlref/__init__.py", "solutions/conv.py",
                                        "tests/conftest.py", "pyproject.toml",
                                        "autograder/sandbox/client.py", "autograder/inside/worker.py")]
    paths += ["/etc/shadow", "/root/.bash_history"]
    r = worker.call("peek", "try_paths", paths)
    assert r.ok and r.value == {p: "FileNotFoundError" for p in paths}
    assert set(worker.call("peek", "listing", str(PROJECT)).value) <= {".venv"}
    r = worker.call("peek", "try_imports", ["dlref", "dlref.conv", "autograder", "solutions"])
    assert r.value == dict.fromkeys(["dlref", "dlref.conv", "autograder", "solutions"],
                                    "ModuleNotFoundError")
    top = set(worker.call("peek", "listing", "/").value)
    assert {"submission", "tmp", "usr", "opt"} <= top
    # A forked view's /views: where the launcher sees the staged views, an empty tmpfs for the view.
    assert top <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "opt", "proc", "sbin",
                   "submission", "tmp", "usr", PROJECT.parts[1], Path(sys.base_prefix).parts[1]} | (
                       {"views"} if worker.launcher else set())
    if "views" in top:
        assert worker.call("peek", "listing", "/views").value == []


@needs_bwrap
def test_symlinks_to_project_files_dangle(worker):
    r = worker.call("peek", "try_paths", ["reference.txt", "/submission/leak.py"])
    assert r.value == {"reference.txt": "FileNotFoundError",
                       "/submission/leak.py": "FileNotFoundError"}
    r = worker.call("leak", "conv2d_forward")
    assert r.kind == "import_error" and "symlink" in r.message
    assert_alive(worker)


@needs_bwrap
def test_shadow_modules_in_the_submission_change_nothing(worker):
    import numpy

    r = worker.call("peek", "numpy_origin")
    assert r.ok and r.value[1] == 2.0 and not r.value[0].startswith("/submission")
    assert r.value[2] is False  # the submission's sitecustomize.py never ran
    assert_alive(worker)
    assert "site-packages" in numpy.__file__  # the grader's own numpy, untouched


@needs_bwrap
def test_only_the_sandbox_processes_are_visible(worker):
    pids = worker.call("peek", "pids").value
    assert pids == [1, 2]  # bwrap's init and the worker: a fresh pid namespace


@needs_bwrap
def test_no_network(worker):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        inside = worker.call("peek", "connect", "127.0.0.1", port).value
        outside = worker.call("peek", "connect", "1.1.1.1", 53).value
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached the grader's loopback
    finally:
        listener.close()
    assert inside.startswith(("ConnectionRefusedError", "OSError")), inside
    assert "unreachable" in outside.lower(), outside
    assert worker.call("peek", "interfaces").value == ["lo"]


@needs_bwrap
def test_writes_outside_tmp_fail_and_change_nothing(worker, submission):
    targets = [str(VENV_SITE / "zzz_dlgrade_evil.pth"), str(PROJECT / "evil.py"),
               str(PROJECT / ".venv" / "evil.py"), "/submission/good.py", "/usr/evil",
               "/evil", "/opt/dlgrade/worker.py"]
    before = (submission / "good.py").read_bytes()
    existed = {t for t in targets if os.path.lexists(t)}
    r = worker.call("peek", "try_writes", targets + ["/tmp/fine.txt"])
    leaked = [t for t in targets if t not in existed and os.path.lexists(t)]
    for t in leaked:  # a broken sandbox must not leave files behind in the project or venv
        os.remove(t)
    assert leaked == []
    assert r.ok
    for t in targets:
        assert r.value[t].startswith(("OSError", "PermissionError", "FileNotFoundError")), r.value
        assert "Read-only file system" in r.value[t] or "Permission denied" in r.value[t] or \
            "No such file" in r.value[t]
    assert r.value["/tmp/fine.txt"] == "written"
    assert not (VENV_SITE / "zzz_dlgrade_evil.pth").exists()
    assert not (PROJECT / "evil.py").exists() and not (PROJECT / ".venv" / "evil.py").exists()
    assert (submission / "good.py").read_bytes() == before


# --- hangs, exits, kills -----------------------------------------------------------------

@needs_bwrap
def test_infinite_loop_in_a_function_times_out(worker):
    start = time.monotonic()
    r = worker.call("hostile", "spin")
    assert r.kind == "timeout" and r.message == "spin did not return within 2 s (an infinite loop?)"
    assert 1.9 < time.monotonic() - start < 6
    assert_alive(worker)


@needs_bwrap
def test_ignoring_sigterm_does_not_help(worker):
    r = worker.call("hostile", "stubborn")
    assert r.kind == "timeout" and "stubborn did not return within 2 s" in r.message
    assert_alive(worker)


@needs_bwrap
def test_infinite_loop_at_import_fails_fast_the_second_time(worker):
    r = worker.call("hang_import", "f")
    assert r.kind == "timeout"
    assert r.message == ("hang_import.py did not finish importing within 2 s "
                         "(an infinite loop at module level?)")
    start = time.monotonic()
    again = worker.call("hang_import", "g")
    assert time.monotonic() - start < 0.5
    assert (again.kind, again.message) == (r.kind, r.message)
    assert_alive(worker)


@needs_bwrap
def test_crash_at_import_is_remembered(worker):
    r = worker.call("crash_import", "f")
    assert r.kind == "crashed" and "exited with status 7 while importing crash_import.py" in r.message
    start = time.monotonic()
    assert worker.call("crash_import", "g").message == r.message
    assert time.monotonic() - start < 0.5
    assert_alive(worker)


@needs_bwrap
def test_sys_exit_and_os_exit(worker):
    r = worker.call("hostile", "exit0")
    assert r.kind == "crashed" and r.message == "exit0 called sys.exit(0) instead of returning a value"
    assert_alive(worker)
    r = worker.call("hostile", "exit3")
    assert r.kind == "crashed"
    assert r.message.startswith("the worker process exited with status 3 while running exit3")
    assert_alive(worker)


@needs_bwrap
@pytest.mark.parametrize("function", ["kill_parent", "kill_init", "kill_everything"])
def test_killing_the_parent_or_everything_hurts_only_the_sandbox(worker, function):
    r = worker.call("hostile", function)
    # Signals to bwrap's pid 1 are refused (another uid, or ignored by an init); kill(-1) kills
    # the worker itself. Either way the grader is untouched.
    if r.ok:
        assert r.value.endswith("signalled"), r.value
    else:
        assert r.kind in ("exception", "crashed") and function in r.message
    assert_alive(worker)


@needs_bwrap
def test_memory_limit(worker):
    start = time.monotonic()
    r = worker.call("hostile", "allocate_6gb")
    assert r.kind == "memory"
    line = line_of("hostile.py", "np.ones(6 * 10**9 // 8)")
    assert r.message == ("allocate_6gb ran out of memory (MemoryError; the sandbox allows 2 GiB "
                         f"of address space) (hostile.py, line {line})")
    assert time.monotonic() - start < 2
    assert_alive(worker)


@needs_bwrap
def test_file_size_limit(worker):
    r = worker.call("hostile", "write_2gb", "/tmp/big.bin")
    assert r.kind == "exception" and "File too large" in r.message
    assert "the sandbox allows files up to 64 MiB" in r.message
    r = worker.call("hostile", "fill_tmp")
    assert r.kind == "exception" and "No space left on device" in r.message
    assert "the sandbox's /tmp holds 128 MiB" in r.message
    r = worker.call("hostile", "write_2gb", "/submission/big.bin")
    assert r.kind == "exception" and "Read-only file system" in r.message
    assert_alive(worker)


@needs_bwrap
def test_huge_and_unserializable_returns(worker):
    r = worker.call("hostile", "huge_array")
    assert r.kind == "too_large" and "305 MiB, over the 256 MiB message limit" in r.message
    start = time.monotonic()
    r = worker.call("hostile", "broadcast_view")
    assert r.kind == "too_large" and "7.28 TiB" in r.message
    assert time.monotonic() - start < 1
    expected = {"object_array": "object arrays are not supported",
                "instance": "hostile.Result", "function": "is a function",
                "nested_function": "value['ok'][2]['bad'] is a function"}
    for function, words in expected.items():
        r = worker.call("hostile", function)
        assert r.kind == "unserializable" and words in r.message, r
        assert r.message.startswith(f"{function} returned a value the grader cannot receive")
    assert_alive(worker)


@needs_bwrap
def test_forged_reply_is_a_protocol_error_and_restarts(worker):
    r = worker.call("hostile", "forge_reply")
    assert r.kind == "protocol" and "invalid reply while running forge_reply" in r.message
    assert_alive(worker)


@needs_bwrap
def test_syntax_error_and_binary_garbage(worker):
    r = worker.call("syntax", "g")
    assert r.kind == "import_error"
    assert r.message == "syntax.py could not be imported: SyntaxError at line 2: invalid syntax"
    assert 'File "syntax.py", line 2' in r.traceback
    r = worker.call("garbage", "ok")
    assert r.kind == "import_error"
    assert r.message == ("garbage.py could not be imported: SyntaxError at line 5: "
                         "source code string cannot contain null bytes")
    r = worker.call("latin", "ok")
    assert r.kind == "import_error"
    assert r.message.startswith("latin.py could not be imported: SyntaxError at line 3: "
                                "(unicode error) 'utf-8' codec can't decode byte 0x89")
    assert_alive(worker)


# --- processes, output, daemons: own Workers so their processes do not linger --------------

@needs_bwrap
def test_fork_bomb_is_capped_and_cleaned_up(tmp_path):
    sub = write_submission(tmp_path / "sub", {"bomb.py": """
        import os, time

        def bomb():
            if not (os.getpid() < 10 and os.getuid() != 0):
                return "refused: not sandboxed"
            children = 0
            for _ in range(1000):
                try:
                    pid = os.fork()
                except OSError:
                    break
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children += 1
            return children

        def ok():
            return "still here"
    """})
    # Its own uid: as root, RLIMIT_NPROC counts every process of the uid on the machine, and
    # other sandboxes (a concurrent test run) may be using 65534.
    uid = 60000 + os.getpid() % 5000
    w = Worker(sub, Limits(timeout=10, processes=32), sandbox="bwrap", uid=uid, gid=uid)
    r = w.call("bomb", "bomb")
    assert r.ok and 0 < r.value < 32
    assert w.call("bomb", "ok").value == "still here"
    ns = sandbox_namespace(w)
    assert len(processes_in_namespace(ns)) > r.value
    w.close()
    assert processes_in_namespace(ns) == []


@needs_bwrap
def test_background_daemon_dies_with_the_sandbox(tmp_path):
    marker = f"dlgrade-daemon-{uuid.uuid4().hex}"
    outside = tmp_path / "daemon-was-here"
    sub = write_submission(tmp_path / "sub", {"daemon.py": f"""
        import os, sys

        def start(path):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    code = ("import time; time.sleep(1.5)\\n"
                            "for p in [{str(outside)!r}, '/submission/x', '/tmp/x']:\\n"
                            "    try: open(p, 'w').write('tampered')\\n"
                            "    except OSError: pass\\n"
                            "time.sleep(60)")
                    os.execv(sys.executable, [sys.executable, "-c", code, {marker!r}])
                os._exit(0)
            return "daemon started"

        def ok():
            return 1
    """})
    w = Worker(sub, FAST, sandbox="bwrap")
    assert w.call("daemon", "start", str(outside)).value == "daemon started"
    assert w.call("daemon", "ok").value == 1
    time.sleep(0.3)
    assert len(processes_with(marker)) == 1  # the daemon did start
    ns = sandbox_namespace(w)
    w.close()
    assert processes_with(marker) == [] and processes_in_namespace(ns) == []
    time.sleep(1.8)  # past the moment the daemon would have written
    assert not outside.exists()


@needs_bwrap
def test_printing_200_mb_is_capped(tmp_path, submission):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    with Worker(submission, Limits(timeout=30, output_flood=None), sandbox="bwrap") as w:
        r = w.call("hostile", "print_200mb")
        assert r.ok and r.value == "done printing"
        assert len(r.stdout) < 64 * 1024 + 200
        assert r.stdout.startswith("y" * 1000)
        assert r.stdout.endswith("[... output truncated: 200 MiB more not shown]")
        assert w.call("good", "noisy").stdout == "hello from the student\n"
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert after - before < 100 * 2**20  # 200 MB of output never sat in the grader's memory


@needs_bwrap
def test_a_flood_of_output_stops_the_call(submission):
    with Worker(submission, Limits(timeout=30), sandbox="bwrap") as w:
        r = w.call("hostile", "print_200mb")
        assert not r.ok and r.kind == "output"
        assert "printed more than 16 MiB while running print_200mb" in r.message
        assert r.stdout.startswith("y" * 1000)
        assert w.call("good", "add", 1, 2).value == 3


@needs_bwrap
def test_worker_restarts_before_the_cpu_limit(submission):
    with Worker(submission, Limits(timeout=2, cpu_seconds=3), sandbox="bwrap") as w:
        assert w.call("good", "add", 1, 2).value == 3
        first = w.sandbox_pid
        w._proc.cpu = 1.5  # as if the worker had used 1.5 s of its 3 s
        assert w.call("good", "add", 1, 2).value == 3
        assert w.sandbox_pid != first


# --- the bwrap command line --------------------------------------------------------------

def test_bwrap_args_mount_nothing_of_the_project(tmp_path):
    dirs = S.python_dirs()
    args = S.bwrap_args(runtime="/stage/runtime", submission="/stage/submission", python_dirs=dirs,
                        hidden=[], empty_dir="/stage/empty", env=S.worker_env("/tmp"),
                        limits=Limits(), privileged=True, uid=65534, gid=65534, info_fd=9)
    venv = PROJECT / ".venv"
    sources = [args[i + 1] for i, a in enumerate(args) if a in ("--ro-bind", "--ro-bind-try",
                                                                 "--bind", "--bind-try")]
    assert sources and not any(a in ("--bind", "--bind-try", "--dev-bind") for a in args)
    for src in sources:
        assert not S._contains(src, str(PROJECT)), src  # the project itself is never mounted
        if S._contains(str(PROJECT), src):
            assert S._contains(str(venv), src), src  # only its .venv is
    assert "--unshare-net" in args and "--die-with-parent" in args and "--clearenv" in args
    assert args[args.index("--remount-ro") + 1] == "/"
    assert args[-1] == "--"


def test_installed_project_packages_are_masked(tmp_path):
    site = tmp_path / "prefix" / "lib" / "python3.11" / "site-packages"
    (site / "dlref").mkdir(parents=True)
    (site / "solutions.py").write_text("")
    (site / "numpy").mkdir()
    hidden = S.hidden_paths([str(tmp_path / "prefix")])
    assert sorted(hidden) == [str(site / "dlref"), str(site / "solutions.py")]
    args = S.bwrap_args(runtime="/r", submission="/s", python_dirs=[str(tmp_path / "prefix")],
                        hidden=hidden, empty_dir="/e", env={}, limits=Limits(), privileged=False,
                        uid=65534, gid=65534, info_fd=9)
    joined = " ".join(args)
    assert f"--ro-bind /e {site / 'dlref'}" in joined
    assert f"--ro-bind /dev/null {site / 'solutions.py'}" in joined
    assert "--uid 65534" in joined and "--disable-userns" in joined


# --- sandbox="none" -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plain(submission):
    with Worker(submission, FAST, sandbox="none") as w:
        yield w


def test_unsandboxed_worker_basic_calls(plain):
    assert plain.sandboxed is False
    r = plain.call("good", "echo", np.arange(3), a=None)
    assert r.ok and r.value[0][0].tolist() == [0, 1, 2] and r.value[1] == {"a": None}
    r = plain.call("good", "fails", np.zeros(2))
    assert r.kind == "exception" and "ValueError: bad shape (2,)" in r.message
    r = plain.call("good", "scale_in_place", np.ones(2))
    assert r.mutated == ["x"]
    r = plain.call("syntax", "g")
    assert r.kind == "import_error" and "at line 2" in r.message


def test_unsandboxed_worker_timeout_and_crash_restart(plain):
    r = plain.call("hostile", "spin")
    assert r.kind == "timeout" and "spin did not return within 2 s" in r.message
    assert_alive(plain)
    r = plain.call("hostile", "exit3")
    assert r.kind == "crashed" and "exited with status 3" in r.message
    assert_alive(plain)
    r = plain.call("hostile", "allocate_6gb")
    assert r.kind == "memory"
    assert_alive(plain)


def test_invalid_names_and_closed_worker(tmp_path):
    w = Worker(tmp_path, FAST, sandbox="none")
    with pytest.raises(ValueError):
        w.call("../etc/passwd", "f")
    with pytest.raises(ValueError):
        w.call("good", "f g")
    w.close()
    with pytest.raises(RuntimeError):
        w.call("good", "f")


def test_signal_names_in_crash_messages(tmp_path):
    sub = write_submission(tmp_path / "sub", {"sig.py": """
        import os, signal

        def segv():
            os.kill(os.getpid(), signal.SIGSEGV)
    """})
    modes = ["none"] + (["bwrap"] if S.bwrap_available() else [])
    for mode in modes:
        with Worker(sub, FAST, sandbox=mode) as w:
            r = w.call("sig", "segv")
            assert r.kind == "crashed"
            assert r.message == ("the worker process died with signal SIGSEGV while running segv "
                                 "(a segmentation fault)")


def test_a_venv_under_tmp_stays_visible():
    """The private /tmp is mounted before the binds: a project checked out under /tmp keeps its venv."""
    args = S.bwrap_args(runtime="/r", submission="/s", python_dirs=["/tmp/ci/clone/.venv"], hidden=[],
                        empty_dir="/e", env={}, limits=Limits(), privileged=True, uid=65534, gid=65534, info_fd=9)
    text = " ".join(args)
    assert text.index("--tmpfs /tmp") < text.index("--dir /tmp/ci/clone") < text.index("--ro-bind /tmp/ci/clone/.venv")
    assert "--dir /tmp " not in text  # /tmp keeps the tmpfs' 1777, not 0755


@pytest.mark.skipif(not S.bwrap_available(), reason="bubblewrap unavailable")
def test_worker_runs_from_a_venv_under_tmp(tmp_path):
    """End to end: a venv whose path is under /tmp (as in a CI clone) starts the sandboxed worker."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python*/site-packages"))
    (site / "outer.pth").write_text(str(VENV_SITE) + "\n")  # numpy from the project's venv
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.py").write_text("def f(x):\n    return x + 1\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from autograder.sandbox.client import Worker; "
            "w = Worker(sys.argv[2], sandbox='bwrap'); r = w.call('m', 'f', 41); print(r.ok, r.value, r.message); w.close()")
    done = subprocess.run([str(venv / "bin" / "python"), "-c", code, str(PROJECT), str(tmp_path / "sub")],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "True 42", done.stdout + done.stderr


@pytest.mark.parametrize("value", [
    "not a list",
    [],  # no reply for the first call
    [{"ok": True, "value": 1, "mutated": [], "warnings": []}] * 3,  # more replies than calls
    ["not a dict", {"ok": True, "value": 1, "mutated": [], "warnings": []}],
    [{"ok": True, "value": 1, "mutated": "x", "warnings": []}, {"ok": True, "value": 1, "mutated": [], "warnings": []}],
    [{"ok": False, "kind": "exception", "type": "E", "message": "m", "traceback": ""},
     {"ok": True, "value": 1, "mutated": [], "warnings": []}],  # went on after a failure
    [{"ok": True, "value": 1, "mutated": [], "warnings": []}],  # stopped without a failure
])
def test_a_malformed_batch_reply_is_a_protocol_error(tmp_path, monkeypatch, value):
    worker = Worker(tmp_path, sandbox="none")
    monkeypatch.setattr(worker, "_request", lambda *a, **k: CallResult(ok=True, value=value, seconds=0.1))
    r = worker.batch("mod", [("f", [1], {}), ("g", [2], {})])
    assert not r.ok and r.kind == "protocol" and "invalid batch reply" in r.message
    worker.close()


def test_a_batch_gives_each_call_its_own_result(tmp_path):
    (tmp_path / "mod.py").write_text("def f(x):\n    return x + 1\ndef g(x):\n    raise ValueError('no')\n")
    with Worker(tmp_path, sandbox="none") as worker:
        r = worker.batch("mod", [("f", [1], {}), ("g", [2], {}), ("f", [3], {})])
        assert r.ok and len(r.value) == 2
        assert r.value[0].ok and r.value[0].value == 2
        assert not r.value[1].ok and r.value[1].kind == "exception"
        assert r.value[1].message == "g raised ValueError: no (mod.py, line 4)"
        assert worker.call("mod", "g", 2).message == r.value[1].message  # as a single call says it


LINK_SCAN = '''
import os


def links(roots):
    """[path, resolves] for every symlink under roots, as this process sees them."""
    found = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = os.path.join(folder, name)
                if os.path.islink(path):
                    found.append([path, os.path.exists(path)])
    return found
'''


def _host_configuration(target: str) -> bool:
    """A link into /etc other than /etc/alternatives: host configuration the sandbox hides on purpose."""
    real = os.path.realpath(target)
    return real.startswith("/etc/") and not real.startswith("/etc/alternatives/")


@needs_bwrap
def test_links_that_resolve_on_this_machine_resolve_in_the_sandbox(tmp_path):
    """No link under /usr or the Python trees dangles inside the sandbox but not outside (e.g. /usr/local/cuda
    -> /etc/alternatives/cuda, which XLA follows to find ptxas), except links to the host's configuration."""
    (tmp_path / "scan.py").write_text(LINK_SCAN)
    roots = ["/usr", *S.python_dirs()]
    with Worker(tmp_path, Limits(timeout=120.0), sandbox="bwrap") as w:
        r = w.call("scan", "links", roots)
    assert r.ok, r.message
    inside = {path: resolves for path, resolves in r.value}
    outside = [p for p in inside if os.path.exists(p)]
    assert len(inside) > 10, "the scan found almost no links: it did not look where it should"
    dangling = sorted(p for p in outside if not inside[p] and not _host_configuration(p))
    assert not dangling, f"{len(dangling)} link(s) dangle in the sandbox only: " + ", ".join(
        f"{p} -> {os.readlink(p)}" for p in dangling[:10])


def test_etc_alternatives_is_mounted_read_only(tmp_path):
    """bwrap_args binds /etc/alternatives (symlinks only) read-only, and no other /etc folder."""
    argv = S.bwrap_args(runtime="/r", submission="/s", python_dirs=[], hidden=[], empty_dir="/e", env={},
                        limits=Limits(), privileged=False, uid=65534, gid=65534, info_fd=3)
    binds = [argv[i + 1] for i, a in enumerate(argv) if a in ("--ro-bind", "--ro-bind-try", "--bind")]
    assert "/etc/alternatives" in binds
    i = argv.index("/etc/alternatives")
    assert argv[i - 1] == "--ro-bind-try"
    assert not [b for b in binds if b.startswith("/etc") and b not in S.ETC_FILES]
