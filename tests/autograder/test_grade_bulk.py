"""`dlgrade grade` end to end with the real suites: a tiny class, SIGKILL then --resume, and the Dask path.

Grades only `activations` with few hypothesis examples (a test course.toml) to stay fast.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = (ROOT / "solutions" / "activations.py").read_text()
WRONG_SIGN = ("return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))",
              "return np.where(z >= 0, e / (1.0 + e), 1.0 / (1.0 + e))")
# relu reports the uid it runs as, through the failure message the grader records.
UID_PROBE = SOLUTION + "\n\ndef relu(z):\n    import os\n    raise RuntimeError(f'uid={os.getuid()}')\n"
GRADED = ["ana", "bob", "carl", "dora", "uid"]  # go through the suites; the others are refused at once


def sandbox_flags() -> list[str]:
    from autograder.sandbox.client import bwrap_available

    return [] if bwrap_available() else ["--unsafe-no-sandbox"]


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    base = tmp_path_factory.mktemp("bulk")
    subs = base / "subs"
    subs.mkdir()
    (subs / "ana").mkdir()
    (subs / "ana" / "activations.py").write_text(SOLUTION)
    assert SOLUTION.count(WRONG_SIGN[0]) == 1
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        zf.writestr("bob/activations.py", SOLUTION.replace(*WRONG_SIGN))
    (subs / "carl").mkdir()  # empty: not submitted
    (subs / "dora").mkdir()
    (subs / "dora" / "activations.py").write_text(SOLUTION.replace("def softmax", "import sys\nsys.exit(3)\ndef softmax"))
    (subs / "uid").mkdir()
    (subs / "uid" / "activations.py").write_text(UID_PROBE)
    (subs / "dup").mkdir()
    (subs / "dup" / "activations.py").write_text(SOLUTION)
    shutil.copy(subs / "bob.zip", subs / "dup.zip")
    (subs / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (subs / ".DS_Store").write_bytes(b"\0")
    course = base / "course.toml"
    course.write_text("[grading]\nmax_examples = 3\n")
    return subs, course


def command(subs: Path, out: Path, course: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(out), "--only", "activations",
            "--course", str(course), *sandbox_flags(), *extra]


@pytest.fixture(scope="module")
def uninterrupted(klass, tmp_path_factory):
    subs, course = klass
    out = tmp_path_factory.mktemp("out") / "full"
    proc = subprocess.run(command(subs, out, course, "--jobs", "2"), cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    return out, proc


def load(out: Path, student: str) -> dict:
    return json.loads((out / "results" / f"{student}.json").read_text())


def test_class_is_graded_with_clear_messages(uninterrupted):
    out, proc = uninterrupted
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "could not grade dup: several submissions for student 'dup' (dup/, dup.zip)" in proc.stderr
    assert "could not grade broken: broken.zip is not a readable zip archive" in proc.stderr
    lines = (out / "grades.csv").read_text().splitlines()
    assert lines[0] == "student,activations,late_penalty,total,max_total"
    rows = {line.split(",")[0]: line.split(",")[1:] for line in lines[1:]}
    assert list(rows) == ["ana", "bob", "broken", "carl", "dora", "dup", "uid"]
    assert rows["ana"] == ["10.00", "0.00", "10.00", "10.00"]
    assert 0 < float(rows["bob"][0]) < 10
    assert rows["carl"] == ["0.00", "0.00", "0.00", "10.00"]
    assert rows["dup"] == rows["broken"] == ["", "", "", "10.00"]
    assert float(rows["dora"][0]) == 0  # exits while being imported: zero, but graded
    carl = load(out, "carl")
    # It names the file and says it was not submitted.
    assert all(re.search(r"activations\.py was not submitted", t["extra_data"]["details"])
               and t["status"] == "failed" for t in carl["tests"])
    bob = load(out, "bob")
    assert bob["extra_data"]["submission"]["kind"] == "zip"
    assert {t["tags"][0] for t in bob["tests"]} == {"activations"}
    assert any("check the sign inside exp" in t["extra_data"]["hint"] for t in bob["tests"])
    grading = load(out, "ana")["extra_data"]["grading"]
    assert set(grading) >= {"content_hash", "grader_version", "course_hash", "exercises"}
    assert "7 submission(s) in" in proc.stdout and "Slowest:" in proc.stdout
    assert "5 graded now, 0 unchanged since the last run (--resume), 2 could not be graded." in proc.stdout


def test_sandboxes_run_under_a_per_slot_uid(uninterrupted):
    from autograder.sandbox.client import bwrap_available

    if not bwrap_available():
        pytest.skip("uids are only set inside the bubblewrap sandbox")
    out, _ = uninterrupted
    details = " ".join(t["extra_data"]["details"] for t in load(out, "uid")["tests"])
    uids = {int(u) for u in re.findall(r"uid=(\d+)", details)}
    assert uids and all(60000 <= u < 61000 for u in uids), details[:500]


def test_sigkill_then_resume_gives_identical_grades(klass, uninterrupted, tmp_path):
    subs, course = klass
    out = tmp_path / "killed"
    proc = subprocess.Popen(command(subs, out, course, "--jobs", "1"), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = [s for s in GRADED if (out / "results" / f"{s}.json").exists()]
            if len(done) >= 2 or proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    done = [s for s in GRADED if (out / "results" / f"{s}.json").exists()]
    assert 2 <= len(done) < len(GRADED), f"the kill should land mid-run; graded before it: {done}"
    assert not (out / "grades.csv").exists()
    # The grading processes die with the run (no orphan keeps grading the class).
    for _ in range(100):
        if not _processes_mentioning(str(subs)):
            break
        time.sleep(0.1)
    assert not _processes_mentioning(str(subs))

    resumed = subprocess.run(command(subs, out, course, "--jobs", "2", "--resume"), cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 1, resumed.stderr[-2000:]
    assert f"{len(done)} unchanged since the last run (--resume)" in resumed.stdout
    full, _ = uninterrupted
    assert (out / "grades.csv").read_bytes() == (full / "grades.csv").read_bytes()
    for student in GRADED:
        a, b = load(out, student), load(full, student)
        assert [(t["name"], t["status"], t["score"]) for t in a["tests"]] == \
               [(t["name"], t["status"], t["score"]) for t in b["tests"]]


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline and "--results" in cmdline:
            found.append(int(pid))
    return found


def test_dask_cluster_grades_the_same_as_the_local_pool(klass, uninterrupted, tmp_path):
    pytest.importorskip("distributed")
    from distributed import LocalCluster

    from autograder import cli

    subs, course = klass
    out = tmp_path / "dask"
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        argv = ["grade", str(subs), "--out", str(out), "--only", "activations", "--course", str(course),
                "--dask", cluster.scheduler_address, *sandbox_flags()]
        assert cli.main(argv) == 1
    full, _ = uninterrupted
    assert (out / "grades.csv").read_bytes() == (full / "grades.csv").read_bytes()
    for student in GRADED:
        a, b = load(out, student), load(full, student)
        key = (lambda t: (t["name"], t["status"], t["score"])) if student == "uid" else \
            (lambda t: (t["name"], t["status"], t["score"], t["output"]))  # the uid's messages name the slot's uid
        assert [key(t) for t in a["tests"]] == [key(t) for t in b["tests"]]


def test_a_regrade_replays_the_recorded_examples_with_the_same_grades(klass, uninterrupted, tmp_path):
    subs, course = klass
    full, _ = uninterrupted
    assert list((full / ".examples").glob("*/*.ex")), "ana passed every property test: they are recorded"
    again, plain = tmp_path / "again", tmp_path / "plain"
    shutil.copytree(full / ".examples", again / ".examples")
    for out, extra in ((again, ["--no-reuse"]), (plain, ["--no-reuse", "--no-replay"])):
        proc = subprocess.run(command(subs, out, course, *extra), cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 1, proc.stderr[-2000:]
        assert (out / "grades.csv").read_bytes() == (full / "grades.csv").read_bytes()
        for student in GRADED:
            key = (lambda t: (t["name"], t["status"], t["score"])) if student == "uid" else (lambda t: t)
            assert [key(t) for t in load(out, student)["tests"]] == [key(t) for t in load(full, student)["tests"]]
    assert not (plain / ".examples").exists()
