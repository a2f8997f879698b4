"""Progress of a bulk grading run: a bar with ETA on a terminal, one plain line per submission otherwise."""
from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO


def clock(seconds: float) -> str:
    """3725 -> '1:02:05', 65 -> '1:05'."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Counts finished submissions out of `total`; ETA from the rate of those graded in this run."""

    def __init__(self, total: int, stream: TextIO | None = None, tty: bool | None = None, tick: float = 1.0):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.done = 0
        self.graded = 0  # in this run (not skipped): the rate the ETA uses
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = None
        if self.tty and total:
            self._ticker = threading.Thread(target=self._tick, args=(tick,), daemon=True, name="dlgrade-progress")
            self._ticker.start()

    def eta(self) -> float | None:
        """Seconds left, None until something was graded."""
        left = self.total - self.done
        if not left:
            return 0.0
        if not self.graded:
            return None
        return (time.monotonic() - self.started) / self.graded * left

    def skipped(self, student: str, why: str) -> None:
        """A submission not graded again (its result is up to date)."""
        with self._lock:
            self.done += 1
            self._emit(f"{student}: {why}")

    def finished(self, student: str, line: str, timed: bool = True) -> None:
        """A submission handled in this run; `line` says how it went; `timed`: it went through grading
        (submissions refused at once, e.g. a broken zip, do not count towards the rate)."""
        with self._lock:
            self.done += 1
            self.graded += timed
            self._emit(f"{student}: {line}")

    def note(self, text: str) -> None:
        """A message that is not about one submission's progress."""
        with self._lock:
            if self.tty:
                self._write("\r\x1b[2K" + text + "\n" + self._bar())
            else:
                self._write(text + "\n")

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self.tty:
                self._write("\r\x1b[2K")

    def _emit(self, text: str) -> None:
        if self.tty:
            # Per-submission lines stay above the bar, so the scrollback is a log too.
            self._write("\r\x1b[2K" + text + "\n" + self._bar())
        else:
            eta = self.eta()
            tail = f" (ETA {clock(eta)})" if eta else ""
            width = len(str(self.total))
            self._write(f"[{self.done:>{width}}/{self.total}] {text}{tail}\n")

    def _bar(self) -> str:
        elapsed = clock(time.monotonic() - self.started)
        eta = self.eta()
        status = f" {self.done}/{self.total}  {elapsed} elapsed  ETA {clock(eta) if eta is not None else '?'}"
        columns = shutil.get_terminal_size((80, 24)).columns
        width = max(10, min(40, columns - len(status) - 12))
        filled = int(width * self.done / self.total) if self.total else width
        return f"grading [{'#' * filled}{'.' * (width - filled)}]{status}"

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            with self._lock:
                self._write("\r\x1b[2K" + self._bar())

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed pipe must not stop the grading
