"""The worker's confinement, before any student code: rlimits, the unprivileged uid, the protocol's fds.

Standalone (stdlib only), shipped beside worker.py: run as the worker's first steps.
"""
from __future__ import annotations

import os
import resource


def apply_limits(limits: dict) -> None:
    """Set each rlimit with soft = hard, so student code cannot raise it again."""
    names = {"as": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU, "nproc": resource.RLIMIT_NPROC,
             "fsize": resource.RLIMIT_FSIZE, "core": resource.RLIMIT_CORE,
             "nofile": resource.RLIMIT_NOFILE}
    for key, value in limits.items():
        if value is None:
            continue
        which = names[key]
        old_hard = resource.getrlimit(which)[1]
        # CPU: SIGXCPU at the soft limit (a crash the grader can name), SIGKILL a second later.
        hard = int(value) + 1 if key == "cpu" else int(value)
        if old_hard != resource.RLIM_INFINITY:
            hard = min(hard, old_hard)
        resource.setrlimit(which, (min(int(value), hard), hard))


def drop_privileges(drop) -> None:
    """Become `drop` = [uid, gid] if running as root; refuse to go on as root."""
    if os.geteuid() != 0 and os.getuid() != 0:
        return
    if not drop:
        return  # sandbox="none" as root: the caller chose not to isolate
    uid, gid = int(drop[0]), int(drop[1])
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SystemExit("dlgrade worker: could not drop root privileges; refusing to run student code")


def move_fds(req: int, resp: int) -> tuple[int, int]:
    """Protocol fds to >= 10 and close-on-exec, other fds closed, fd 0 to /dev/null."""
    import fcntl

    moved = []
    for fd in (req, resp):
        new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        moved.append(new)
    low, high = sorted(moved)
    # Anything else inherited is not for student code.
    os.closerange(3, low)
    os.closerange(low + 1, high)
    os.closerange(high + 1, 1 << 16)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    if null != 0:
        os.close(null)
    return moved[0], moved[1]
