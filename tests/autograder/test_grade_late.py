"""Late penalties: timestamps (nbgrader's timestamp.txt, file times) and the none / per_day / cutoff policies."""
import os
from datetime import datetime, timedelta, timezone

import pytest

from autograder.course.config import ConfigError, Grading
from autograder.grading.late import Late, deadline_of, lateness, latest_mtime, parse_timestamp, submitted_at

UTC = timezone.utc
DEADLINE = "2026-03-01T23:59:00+00:00"
DUE = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("2026-03-01 12:00:00.500000 UTC", datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)),  # nbgrader's format
    ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
    ("2026-03-01T13:00:00+01:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),
    ("2026-03-01 12:00:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),  # naive: UTC, as nbgrader does
    ("  2026-03-01 04:00:00 America/Los_Angeles\n", datetime(2026, 3, 1, 12, tzinfo=UTC)),  # PST is UTC-8
])
def test_timestamps_are_read_as_utc(text, expected):
    got = parse_timestamp(text)
    assert got == expected and got.tzinfo == UTC


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01 00:00:00", "2026-03-01 12:00:00 Mars/Olympus"])
def test_bad_timestamps_raise(text):
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_bad_deadline_is_a_config_error():
    with pytest.raises(ConfigError, match="deadline = 'soon'"):
        deadline_of(Grading(deadline="soon"))
    assert deadline_of(Grading()) is None


def grading(policy: str, **kw) -> Grading:
    return Grading(late_policy=policy, deadline=DEADLINE, **kw)


def test_on_time_and_no_policy_cost_nothing():
    assert lateness(grading("per_day"), DUE) == Late()
    assert lateness(grading("per_day"), DUE - timedelta(days=3)) == Late()
    assert lateness(grading("none"), DUE + timedelta(days=30)).fraction == 0
    assert lateness(Grading(late_policy="per_day"), DUE + timedelta(days=30)).fraction == 0  # no deadline


@pytest.mark.parametrize("late, days, fraction", [
    (timedelta(seconds=1), 1, 0.10),  # a started day counts as a day
    (timedelta(days=1), 1, 0.10),
    (timedelta(days=1, seconds=1), 2, 0.20),
    (timedelta(days=9, hours=1), 10, 1.0),
    (timedelta(days=40), 40, 1.0),  # never more than the whole score
])
def test_per_day_penalty(late, days, fraction):
    got = lateness(grading("per_day", late_percent_per_day=10.0), DUE + late)
    assert got.days_late == days
    assert got.fraction == pytest.approx(fraction, abs=1e-12)  # exact in decimal; float rounding only
    assert got.penalty(50.0) == pytest.approx(50.0 * fraction, abs=1e-9)


@pytest.mark.parametrize("late, fraction", [
    (timedelta(days=2), 0.0),
    (timedelta(days=2, seconds=1), 1.0),
    (timedelta(hours=1), 0.0),
])
def test_cutoff_scores_zero_only_after_the_cutoff(late, fraction):
    assert lateness(grading("cutoff", cutoff_days=2.0), DUE + late).fraction == fraction


def test_cutoff_zero_days_refuses_any_late_submission():
    assert lateness(grading("cutoff"), DUE + timedelta(seconds=1)).fraction == 1.0
    assert lateness(grading("cutoff"), DUE).fraction == 0.0


def test_timestamp_file_wins_over_file_times(tmp_path):
    (tmp_path / "activations.py").write_text("x = 1")
    (tmp_path / "timestamp.txt").write_text("2026-03-02 10:00:00.000000 UTC")
    when, source, note = submitted_at(tmp_path, tmp_path)
    assert (when, source, note) == (datetime(2026, 3, 2, 10, tzinfo=UTC), "timestamp.txt", "")


def test_unreadable_timestamp_falls_back_to_file_times_with_a_note(tmp_path):
    (tmp_path / "activations.py").write_text("x = 1")
    os.utime(tmp_path / "activations.py", (1_700_000_000, 1_700_000_000))
    (tmp_path / "timestamp.txt").write_text("last tuesday")
    os.utime(tmp_path / "timestamp.txt", (1_600_000_000, 1_600_000_000))
    when, source, note = submitted_at(tmp_path, tmp_path)
    assert source == "mtime" and "timestamp.txt could not be read" in note
    assert when == datetime.fromtimestamp(1_700_000_000, UTC)


def test_folder_time_is_its_newest_visible_file(tmp_path):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("")
    (tmp_path / ".hidden").write_text("")
    os.utime(tmp_path / "a.py", (1000, 1000))
    os.utime(tmp_path / "sub" / "b.py", (5000, 5000))
    os.utime(tmp_path / ".hidden", (9000, 9000))  # editor litter does not make a submission late
    assert latest_mtime(tmp_path) == 5000
    archive = tmp_path / "ana.zip"
    archive.write_bytes(b"")
    os.utime(archive, (7000, 7000))
    assert latest_mtime(archive) == 7000
