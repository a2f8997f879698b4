"""autograder.sandbox.launcher: views' workers forked from one launcher share nothing, and grade as bwrap's do.

The hostile battery of test_sandbox.py runs against a forked worker too (its `worker` fixture);
here: what forking adds, views of one launcher one after another and side by side.
"""
import os
import shutil
import textwrap
import time
from pathlib import Path

import pytest

from autograder.grading.runner import run_suites
from autograder.sandbox import bwrap as S
from autograder.sandbox.client import Limits, Worker
from autograder.sandbox.launcher import Launcher

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not S.bwrap_available() or os.geteuid() != 0,
                                reason="the launcher forks views only under bubblewrap started by root")
LIMITS = Limits(timeout=5.0)
UID = 60977  # a uid no grading slot uses meanwhile

VIEW = """
import os, time

def leave_traces():
    open("/tmp/left-behind", "w").write("x")
    open("/dev/shm/left-behind", "w").write("x")
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        os._exit(0)
    return os.getpid()

def look():
    caps = {k: int(v, 16) for k, v in (line.split(":") for line in open("/proc/self/status") if line.startswith("Cap"))}
    return {"tmp": os.listdir("/tmp"), "shm": os.listdir("/dev/shm") if os.path.isdir("/dev/shm") else [],
            "views": os.listdir("/views"), "submission": sorted(os.listdir("/submission")),
            "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), "uid": os.getuid(),
            "gid": os.getgid(), "groups": os.getgroups(), "caps": caps}

def late_imports():
    import fractions
    import numpy as np
    return float(np.random.default_rng(0).random() >= 0) + float(fractions.Fraction(1, 2))

def read(path):
    try:
        return open(path).read()
    except OSError as e:
        return type(e).__name__

def signal_all():
    import signal
    hit = []
    for pid in range(1, 400):
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            hit.append(pid)
        except OSError:
            pass
    return hit
"""


def kept(launcher: Launcher) -> list[str]:
    """What a view's fresh /tmp holds: the top folders of the Python trees bound again under it."""
    return sorted({d.split("/")[2] for d in launcher.keep})


def submission(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(VIEW))
    return folder


def uid_processes(uid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                out.append(int(entry))
        except OSError:
            pass
    return out


@pytest.fixture
def launcher():
    started = Launcher(LIMITS)
    yield started
    started.close()


def test_a_view_sees_its_own_files_and_processes_only_without_privileges(launcher, tmp_path):
    with Worker(submission(tmp_path / "a", "alpha"), LIMITS, sandbox="bwrap", uid=UID, gid=UID, launcher=launcher) as w:
        r = w.call("alpha", "look")
    assert r.ok, r
    seen = r.value
    assert seen["submission"] == ["alpha.py"] and seen["views"] == [] and seen["tmp"] == kept(launcher)
    assert seen["pids"] == [1, 2], "its own pid namespace: its pid 1 and itself"
    assert (seen["uid"], seen["gid"], seen["groups"]) == (UID, UID, [])
    assert not any(v for k, v in seen["caps"].items() if k != "CapBnd"), seen["caps"]
    assert launcher.forked == 1 and not launcher.broken


def test_a_view_imports_what_the_launcher_never_did(launcher, tmp_path):
    """numpy.random (imported on first use) and the stdlib are found, wherever the venv lives: a clone of the
    project under /tmp has its venv bound under the /tmp each view gets fresh."""
    with Worker(submission(tmp_path / "a", "alpha"), LIMITS, sandbox="bwrap", uid=UID, gid=UID, launcher=launcher) as w:
        r = w.call("alpha", "late_imports")
    assert r.ok and r.value == 1.5, r
    assert all(d.startswith("/tmp/") for d in launcher.keep)


def test_nothing_of_a_view_is_left_for_the_next(launcher, tmp_path):
    """Files in /tmp and /dev/shm, a daemon in a session of its own: gone once the view's worker is closed."""
    with Worker(submission(tmp_path / "a", "alpha"), LIMITS, sandbox="bwrap", uid=UID, gid=UID, launcher=launcher) as w:
        assert w.call("alpha", "leave_traces").ok
        assert len(uid_processes(UID)) >= 2, "the daemon runs beside the worker"
    deadline = time.monotonic() + 5
    while uid_processes(UID) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uid_processes(UID) == [], "every process of the view died with it"
    with Worker(submission(tmp_path / "b", "beta"), LIMITS, sandbox="bwrap", uid=UID, gid=UID, launcher=launcher) as w:
        seen = w.call("beta", "look").value
    assert seen["tmp"] == kept(launcher) and seen["shm"] == [] and seen["pids"] == [1, 2]
    assert launcher.forked == 2 and not launcher.broken


def test_views_side_by_side_cannot_reach_each_other(launcher, tmp_path):
    a = Worker(submission(tmp_path / "a", "alpha"), LIMITS, sandbox="bwrap", uid=UID, gid=UID, launcher=launcher)
    b = Worker(submission(tmp_path / "b", "beta"), LIMITS, sandbox="bwrap", uid=UID, gid=UID, launcher=launcher)
    try:
        assert a.call("alpha", "leave_traces").ok
        assert b.call("beta", "look").value["tmp"] == kept(launcher)
        staged = [p.name for p in Path(launcher.views).iterdir() if (p / "submission" / "alpha.py").exists()]
        assert len(staged) == 1 and len(list(Path(launcher.views).iterdir())) == 2, "both are staged, side by side"
        assert b.call("beta", "read", f"/views/{staged[0]}/submission/alpha.py").value == "FileNotFoundError"
        assert b.call("beta", "signal_all").value == [], "no other process is visible, let alone killable"
        assert a.call("alpha", "look").ok, "a lives on"
    finally:
        a.close()
        b.close()


def test_a_launcher_that_cannot_start_leaves_each_view_a_bubblewrap_of_its_own(tmp_path):
    broken = Launcher(LIMITS)
    try:
        os.remove(os.path.join(broken.stage.runtime, "launcher.py"))
        with Worker(submission(tmp_path / "a", "alpha"), LIMITS, sandbox="bwrap", uid=UID, gid=UID,
                    launcher=broken) as w:
            r = w.call("alpha", "read", "/submission/alpha.py")
        assert r.ok and "def look" in r.value, r
        assert "launcher.py" in broken.broken and broken.forked == 0
    finally:
        broken.close()


def test_grading_forks_the_views_and_grades_as_bubblewrap_does(tmp_path):
    """The real grading path (run_suites) on a model answer and a broken file: same tests, same outcomes."""
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "solutions" / "activations.py", sub)
    (sub / "losses.py").write_text((ROOT / "solutions" / "losses.py").read_text().replace("np.log(", "np.log2("))
    forked = run_suites(sub, ["activations", "losses"], hidden=True, sandbox="bwrap",
                        env={"DLGRADE_ISOLATE": "1"})
    plain = run_suites(sub, ["activations", "losses"], hidden=True, sandbox="bwrap",
                       env={"DLGRADE_ISOLATE": "1", "DLGRADE_FORK_WORKERS": "0"})
    assert forked["forked"] >= 2 and plain["forked"] == 0

    def outcome(data):
        return [(t["extra_data"]["test_id"], t["status"], t["score"], t["extra_data"]["details"]) for t in data["tests"]]

    assert outcome(forked) == outcome(plain)
    statuses = {t["tags"][0]: set() for t in forked["tests"]}
    for t in forked["tests"]:
        statuses[t["tags"][0]].add(t["status"])
    assert statuses == {"activations": {"passed"}, "losses": {"passed", "failed"}}
