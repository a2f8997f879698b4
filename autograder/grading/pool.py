"""Where submissions are graded: a local pool of grading slots, or a Dask distributed cluster.

Each submission is graded in its own trusted pytest process (runner.run_suites), so a local
slot is a thread that launches and waits on that process; a Dask task does the same on a
worker of the cluster.
"""
from __future__ import annotations

import concurrent.futures as cf
import errno
import fcntl
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

UID_BASE = 60000
UID_SLOTS = 1000
DASK_CONNECT_TIMEOUT = 30.0  # seconds to reach the scheduler before giving up


class PoolError(RuntimeError):
    """The pool could not be started (e.g. the Dask scheduler cannot be reached)."""


class LocalPool:
    """`jobs` grading slots on this machine."""

    ships_files = False  # tasks read the prepared submission folders directly

    def __init__(self, jobs: int):
        self.jobs = self.slots = jobs
        self._executor = cf.ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dlgrade-grade")

    def describe(self) -> str:
        return f"{self.jobs} local job{'s' if self.jobs != 1 else ''}"

    def submit(self, fn: Callable, *args: Any, key: str, resources: dict | None = None) -> cf.Future:
        return self._executor.submit(fn, *args)

    def wait_first(self, futures: list) -> list:
        """The futures done once at least one is (all of them if there are none)."""
        return list(cf.wait(futures, return_when=cf.FIRST_COMPLETED).done) if futures else []

    def close(self, cancel: bool = False) -> None:
        self._executor.shutdown(wait=not cancel, cancel_futures=cancel)


class DaskPool:
    """Tasks on an existing dask.distributed cluster (its scheduler's address)."""

    ships_files = True  # workers may not share this machine's disk: send the files

    def __init__(self, address: str, timeout: float | None = None):
        try:
            from distributed import Client
        except ImportError as e:
            raise PoolError(f"--dask needs dask.distributed ({e}); install with pip install 'dask[distributed]'") from None
        try:
            self.client = Client(address, timeout=timeout or DASK_CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise PoolError(f"cannot reach the Dask scheduler at {address}: {e}") from None
        self.address = address
        workers = self.client.scheduler_info().get("workers", {})
        threads = sum(w.get("nthreads", 0) for w in workers.values())
        self.slots = max(threads, 1)  # tasks in flight: more would only queue on the scheduler
        self._description = f"Dask cluster {address} ({len(workers)} workers, {threads} threads at the start)"

    def describe(self) -> str:
        return self._description

    def submit(self, fn: Callable, *args: Any, key: str, resources: dict | None = None):
        return self.client.submit(fn, *args, key=key, pure=False, resources=resources, retries=0)

    def wait_first(self, futures: list) -> list:
        """The futures done once at least one is (all of them if there are none)."""
        if not futures:
            return []
        from distributed import wait

        with self.client.as_current():  # not the default client (set_as_default=False)
            return list(wait(futures, return_when="FIRST_COMPLETED").done)

    def close(self, cancel: bool = False) -> None:
        self.client.close()


# --- distinct worker uids ------------------------------------------------------------------

_fallback_lock = threading.Lock()
_fallback_slots: dict[int, int] = {}


@contextmanager
def worker_uid() -> Iterator[int]:
    """A uid no other grading slot on this machine uses meanwhile (sandboxes sharing a uid share RLIMIT_NPROC).

    Slots are leased with flock on files in a shared folder, so that parallel runs, threads
    and Dask worker processes on one machine never share a uid.
    """
    fd, uid = _lease()
    try:
        yield uid
    finally:
        if fd is not None:
            os.close(fd)  # releases the lease


def _lease() -> tuple[int | None, int]:
    folder = Path(tempfile.gettempdir()) / "dlgrade-worker-uids"
    try:
        try:
            folder.mkdir()
            folder.chmod(0o1777)  # every user's runs lease from the same slots
        except FileExistsError:
            pass
        for slot in range(UID_SLOTS):
            fd = _try_lock(folder / f"{slot}.lock")
            if fd is not None:
                return fd, UID_BASE + slot
    except OSError:
        pass
    # No shared folder (read-only /tmp?): distinct within this process only.
    with _fallback_lock:
        slot = _fallback_slots.setdefault(threading.get_ident(), len(_fallback_slots))
    return None, UID_BASE + slot % UID_SLOTS


def _try_lock(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd
