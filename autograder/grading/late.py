"""Late penalties: when a submission was made (nbgrader's timestamp.txt, else file times) and what it costs.

Policies (course.toml [grading]):
  none     no penalty;
  per_day  late_percent_per_day % of the score per started day after the deadline, at most 100 %;
  cutoff   no penalty up to cutoff_days after the deadline, the whole score after that.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from autograder.course.config import ConfigError, Grading

DAY = 86400.0
TIMESTAMP_FILE = "timestamp.txt"


def parse_timestamp(text: str) -> datetime:
    """An aware datetime from ISO 8601 or nbgrader's '%Y-%m-%d %H:%M:%S.%f %Z'; naive means UTC."""
    s = text.strip()
    zone = None
    head, _, tail = s.rpartition(" ")
    if head and tail and tail[0].isalpha() and tail not in ("Z",):
        s, zone = head, tail  # a trailing zone name: "UTC", "GMT", "Europe/Paris"
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    when = datetime.fromisoformat(s)  # ValueError names what it could not read
    if zone is not None:
        if when.tzinfo is not None:
            raise ValueError(f"{text.strip()!r} has both an offset and a zone name")
        when = when.replace(tzinfo=_zone(zone))
    elif when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def _zone(name: str):
    if name.upper() in ("UTC", "GMT", "Z"):
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def deadline_of(grading: Grading) -> datetime | None:
    """course.toml's deadline (None when empty); ConfigError when it cannot be read."""
    if not grading.deadline:
        return None
    try:
        return parse_timestamp(grading.deadline)
    except ValueError as e:
        raise ConfigError(f"course.toml: [grading] deadline = {grading.deadline!r}: not a date and time ({e})") from None


def submitted_at(entry: Path, folder: Path) -> tuple[datetime, str, str]:
    """(when, where it came from, a note): timestamp.txt in the submission, else the latest file time."""
    note = ""
    stamp = folder / TIMESTAMP_FILE
    if stamp.is_file() and not stamp.is_symlink():
        try:
            return parse_timestamp(stamp.read_text(errors="replace")[:200]), TIMESTAMP_FILE, ""
        except ValueError as e:
            note = f"{TIMESTAMP_FILE} could not be read ({e}); used the file times instead"
    return datetime.fromtimestamp(latest_mtime(entry), timezone.utc), "mtime", note


def latest_mtime(entry: Path) -> float:
    """The entry's modification time; for a folder, its newest non-hidden file's."""
    if not entry.is_dir():
        return entry.stat().st_mtime
    newest = None
    for dirpath, dirnames, filenames in os.walk(entry):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__pycache__"]
        for name in filenames:
            if name.startswith("."):
                continue
            st = os.lstat(os.path.join(dirpath, name))
            newest = st.st_mtime if newest is None else max(newest, st.st_mtime)
    return entry.stat().st_mtime if newest is None else newest


@dataclass(frozen=True)
class Late:
    """How late a submission was and the share of its score it loses."""

    seconds_late: float = 0.0
    fraction: float = 0.0  # 0: no penalty, 1: the whole score

    @property
    def days_late(self) -> int:
        """Started days after the deadline (1 second late is 1 day)."""
        return math.ceil(self.seconds_late / DAY) if self.seconds_late > 0 else 0

    def penalty(self, score: float) -> float:
        return score * self.fraction


def lateness(grading: Grading, when: datetime) -> Late:
    """The penalty for submitting at `when` under course.toml's policy."""
    deadline = deadline_of(grading)
    if deadline is None or grading.late_policy == "none":
        return Late()
    seconds = (when - deadline).total_seconds()
    if seconds <= 0:
        return Late()
    late = Late(seconds_late=seconds)
    if grading.late_policy == "per_day":
        fraction = min(1.0, late.days_late * grading.late_percent_per_day / 100.0)
    else:  # cutoff
        fraction = 1.0 if seconds > grading.cutoff_days * DAY else 0.0
    return Late(seconds_late=seconds, fraction=fraction)
