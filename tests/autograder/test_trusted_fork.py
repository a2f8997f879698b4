"""autograder.grading.trusted_fork: a trusted session forked from the preloaded server is the session run_suites starts."""
import shutil
import textwrap
import time
from pathlib import Path

import pytest

from autograder.grading import trusted_fork
from autograder.grading.runner import FORK, GradingFailed, run_suites, trusted_env

ROOT = Path(__file__).resolve().parents[2]


def test_the_session_has_the_trusted_environment_import_path_and_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "elsewhere"))  # what trusted_env leaves out
    check = tmp_path / "test_session.py"
    env = trusted_env({"DLGRADE_MARK": "x"})
    check.write_text(textwrap.dedent(f"""
        import os, sys
        def test_as_run_suites_would_start_it():
            assert {{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}} == {env!r}
            assert sys.path[0] == {str(ROOT)!r} and {str(tmp_path / "elsewhere")!r} not in sys.path
            assert os.getcwd() == {str(tmp_path)!r}
            print("session ran")
        def test_fails():
            assert {{"a": 1}} == {{"a": 2}}
    """))
    log = tmp_path / "log"
    code = trusted_fork.run(["-p", "no:cacheprovider", "--import-mode=importlib", "-q", str(check)], env, str(tmp_path),
                            str(log), str(ROOT), 120, trusted_env({}))
    text = log.read_text()
    assert code == 1 and "1 failed, 1 passed" in text, text
    assert "test_fails" in text and "test_as_run_suites_would_start_it" not in text.split("short test summary")[-1]


def test_a_forked_session_grades_as_a_started_one(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "solutions" / "activations.py", sub)
    (sub / "losses.py").write_text((ROOT / "solutions" / "losses.py").read_text().replace("np.log(", "np.log2("))
    forked = run_suites(sub, ["activations", "losses"], hidden=True, env={FORK: "1"})
    started = run_suites(sub, ["activations", "losses"], hidden=True)
    assert (forked["session"], started["session"]) == ("forked", "started")

    def outcome(data):
        return [(t["extra_data"]["test_id"], t["status"], t["score"], t["extra_data"]["details"]) for t in data["tests"]]

    assert outcome(forked) == outcome(started)
    assert {t["status"] for t in forked["tests"] if t["tags"][0] == "losses"} == {"passed", "failed"}


def test_a_forked_session_past_its_time_is_stopped(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "conv.py").write_text("import time\ntime.sleep(60)\n")  # each call waits out its own limit (10 s)
    started = time.monotonic()
    with pytest.raises(GradingFailed, match="longer than"):
        run_suites(sub, ["conv"], hidden=True, env={FORK: "1"}, timeout=2.0)
    assert time.monotonic() - started < 8


def test_without_a_server_the_session_is_started_as_before(tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "solutions" / "activations.py", sub)
    monkeypatch.setattr(trusted_fork, "_server", None)
    monkeypatch.setattr(trusted_fork, "_BOOT", "import sys; print('no server today'); sys.exit(3)")
    with pytest.raises(trusted_fork.ServerFailed, match="no server today"):
        trusted_fork.run(["--version"], trusted_env({}), str(tmp_path), str(tmp_path / "log"), str(ROOT), 60,
                         trusted_env({}))
    data = run_suites(sub, ["activations"], hidden=False, env={FORK: "1"})
    assert data["session"] == "started" and data["tests"] and all(t["status"] == "passed" for t in data["tests"])


def test_the_server_outlives_the_grading_slot_that_started_it(tmp_path):
    """Started from a pool's thread (as by a local slot), it serves the next run's slots too once that thread ends."""
    import threading

    trusted_fork.close()
    env = trusted_env({})
    codes = []

    def slot():
        codes.append(trusted_fork.run(["--version"], env, str(tmp_path), str(tmp_path / "log"), str(ROOT), 60, env))

    thread = threading.Thread(target=slot)
    thread.start()
    thread.join()
    server = trusted_fork._server
    time.sleep(0.5)
    assert codes == [0] and server is not None and server.popen.poll() is None, "alive after its thread ended"
    assert trusted_fork.run(["--version"], env, str(tmp_path), str(tmp_path / "log"), str(ROOT), 60, env) == 0
    assert trusted_fork._server is server
