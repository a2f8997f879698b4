"""The launcher: the grader's own process in a sandbox, numpy imported, that forks one worker per view.

Standalone on purpose (stdlib + numpy + worker.py, confine.py, protocol.py beside it), like
worker.py. It never runs student code: it starts once per grading session, imports numpy and
the worker (the 70 ms a fresh worker would spend on each view), then waits for requests.

Usage: ``python -I -B launcher.py CONFIG_JSON`` inside bubblewrap started as root with
CAP_SYS_ADMIN, CAP_SETUID and CAP_SETGID, the views' folder bound read-only at /views and an
empty /submission. CONFIG names the request socket (a SOCK_SEQPACKET fd).

A request is one message: JSON ``{"view": "/views/<id>/submission", "limits": {..},
"drop": [uid, gid], "max_bytes": n, "tmp_size": n}`` with four fds attached (SCM_RIGHTS): the
worker's request pipe (read end), its reply pipe (write end), its stdout/stderr pipe, and a
control socket. For each request the launcher forks; the child unshares mount, pid and IPC
namespaces and forks the view's pid 1, which, before any student code:

* makes the view's own filesystem: the view bound read-only at /submission, /views hidden
  under an empty read-only tmpfs, a fresh size-capped /tmp and /dev/shm, a /proc of its own
  pid namespace (nothing of the launcher or of other views is visible or left over);
* sends its credentials on the control socket (the kernel gives the trusted side its pid
  there) and waits for the trusted side's acknowledgement (it has opened a pidfd: killing
  this pid 1 ends every process of the view);
* forks the worker (pid 2), which applies the rlimits, drops to the view's uid (checking no
  capability is left), and serves the worker protocol on its pipes (worker.py);
* reaps whatever the view leaves behind and, once the worker has exited, reports its wait
  status on the control socket and exits, which ends the view's namespace.
"""
from __future__ import annotations

import ctypes
import json
import os
import socket
import sys

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: None if s is None else s.encode())
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _view_filesystem(view: str, tmp_size: int, keep: list[str]) -> None:
    """The view's own mounts, in the fresh mount namespace (none of them reaches the launcher's).

    `keep`: the Python trees bound under /tmp (a project, and so its venv, may live there), bound
    again, read-only, over the view's fresh /tmp: a module the launcher did not import (numpy.random
    is imported on first use) must still be found.
    """
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount(view, "/submission", None, MS_BIND | MS_REC)
    _mount(None, "/submission", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _mount("tmpfs", "/views", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0755")
    kept = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY)) for path in keep]  # the trees under the old /tmp
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(tmp_size)},mode=1777")
    for path, fd in kept:
        parts = path.strip("/").split("/")
        for i in range(2, len(parts) + 1):  # /tmp/x, /tmp/x/.venv: 0755 and root's, as bwrap makes them
            folder = "/" + "/".join(parts[:i])
            if not os.path.isdir(folder):
                os.mkdir(folder, 0o755)
                os.chmod(folder, 0o755)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        os.close(fd)
    if os.path.isdir("/dev/shm"):
        _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={int(tmp_size)},mode=1777")
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _no_capabilities() -> None:
    """Clear the inheritable capabilities (bwrap sets them), then refuse to go on if any is left.

    setresuid to a non-root uid has cleared the permitted, effective and ambient sets already.
    """
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable}, all empty
    _check(_libc.capset(header, data), "capset")
    with open("/proc/self/status") as f:
        caps = {k: v.strip() for k, v in (line.split(":", 1) for line in f if line.startswith("Cap"))}
    left = [k for k in ("CapInh", "CapPrm", "CapEff", "CapAmb") if int(caps.get(k, "0"), 16)]
    if left:
        raise SystemExit(f"dlgrade worker: capabilities left after dropping privileges ({', '.join(left)})")


def _worker(cfg: dict, req: int, resp: int, out: int, here: str) -> None:
    """pid 2 of the view: confine, then serve (never returns)."""
    import confine
    import worker

    os.dup2(out, 1)
    os.dup2(out, 2)
    confine.apply_limits(cfg.get("limits", {}))
    confine.drop_privileges(cfg.get("drop"))
    _no_capabilities()
    req, resp = confine.move_fds(req, resp)  # closes every other fd: the control socket, `out`
    served = worker.Worker(req, resp, "/submission", int(cfg["max_bytes"]), runtime=here)
    sys.path.remove(here)
    sys.path.insert(0, served.submission)
    os.chdir(served.submission)
    served.serve()


def _tell(ctl: int, message: dict) -> None:
    """One JSON line to the trusted side on the view's control socket (gone: nobody to tell)."""
    try:
        os.write(ctl, (json.dumps(message) + "\n").encode())
    except OSError:
        pass


def _view(cfg: dict, fds: list[int], here: str) -> None:
    """pid 1 of the view's namespace (never returns)."""
    req, resp, out, ctl = fds
    status = {}
    try:
        _view_filesystem(cfg["view"], cfg["tmp_size"], cfg.get("keep", []))
        os.write(ctl, b'{"ready": true}\n')  # carries this process's credentials (SO_PASSCRED)
        if os.read(ctl, 1) != b"k":
            os._exit(3)
        pid = os.fork()
        if pid == 0:
            try:
                _worker(cfg, req, resp, out, here)
            except BaseException as e:  # noqa: BLE001 - reported on the capture pipe
                os.write(2, f"dlgrade worker: could not start: {type(e).__name__}: {e}\n".encode())
            os._exit(70)
        for fd in (req, resp, out):
            os.close(fd)
        while True:  # reap the view's processes until the worker itself is gone
            child, wait_status = os.wait()
            if child == pid:
                status = {"status": wait_status}
                break
    except BaseException as e:  # noqa: BLE001 - told to the trusted side, which falls back
        status = {"error": f"{type(e).__name__}: {e}"}
    _tell(ctl, status)
    os._exit(0)


def _fork_view(cfg: dict, fds: list[int], here: str, requests: int) -> None:
    """Fork a child that makes the view's namespaces and its pid 1; reap the child."""
    child = os.fork()
    if child == 0:
        try:
            os.close(requests)
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
            if os.fork() == 0:
                _view(cfg, fds, here)
        except BaseException as e:  # noqa: BLE001
            _tell(fds[3], {"error": f"{type(e).__name__}: {e}"})
        os._exit(0)
    os.waitpid(child, 0)


def main(argv: list[str]) -> None:
    cfg = json.loads(argv[1])
    sys.dont_write_bytecode = True
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    import numpy  # noqa: F401 - what each view's worker would otherwise import again
    import arguments  # noqa: F401
    import confine  # noqa: F401
    import protocol  # noqa: F401
    import worker  # noqa: F401

    requests = socket.socket(fileno=int(cfg["sock"]))
    requests.sendall(b"ready")
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(requests, 1 << 16, 4)
        except OSError:
            return
        if not data:
            return  # the trusted side closed its end
        try:
            request = json.loads(data)
            if len(fds) != 4:
                raise ValueError(f"{len(fds)} fds")
            _fork_view(request, fds, here, requests.fileno())
        except Exception as e:  # noqa: BLE001 - a malformed request from the trusted side
            if len(fds) == 4:
                _tell(fds[3], {"error": f"{type(e).__name__}: {e}"})
        finally:
            for fd in fds:
                os.close(fd)


if __name__ == "__main__":
    main(sys.argv)
