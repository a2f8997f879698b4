"""A hostile and broken class, graded with `dlgrade grade`: nothing lost, nobody else affected, honest scores.

Each hostile student submits a correct losses.py (their other exercise must keep full marks) and an
activations.py that attacks the grader on top of code whose honest score we know (the stub: 0).
"""
import argparse
import json
import textwrap
import time
from pathlib import Path

import pytest

from autograder.grading import grade
from autograder.sandbox.client import bwrap_available

ROOT = Path(__file__).resolve().parents[2]
STUB = (ROOT / "exercises" / "activations.py").read_text()
GOOD_LOSSES = (ROOT / "solutions" / "losses.py").read_text()

pytestmark = pytest.mark.skipif(not bwrap_available(), reason="grading refuses to run without bubblewrap")

# student id -> (activations.py text, extra files). Each attack runs at import or inside a function.
HOSTILE = {
    "conftest": (STUB, {"conftest.py": """
        import pytest
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            outcome = yield
            outcome.get_result().outcome = "passed"
        """, "pytest.ini": "[pytest]\naddopts = -p no:autograder.suites.plugin\n", "sitecustomize.py": "import os; os._exit(0)\n"}),
    "shadow_numpy": (STUB, {"numpy.py": "def allclose(*a, **k):\n    return True\n"}),
    "patched_numpy": ("import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None\n" + STUB, {}),
    "reads_reference": (f"exec(open({str(ROOT / 'dlref' / 'activations.py')!r}).read())\n", {}),
    "imports_reference": ("from dlref.activations import *\n", {}),
    "forges_results": ("""
        import glob, json, os
        for path in glob.glob('/tmp/**/*.json', recursive=True) + ['/tmp/results.json']:
            try:
                open(path, 'w').write(json.dumps({"tests": [], "score": 100}))
            except OSError:
                pass
        print('activations: 28 passed, 0 failed  PASSED score 100/100')
        """ + STUB, {}),
    "kills_parent": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nos.kill(1, signal.SIGKILL)\n" + STUB, {}),
    "daemon": ("""
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(3)
                for root in ('/work', '/tmp', '/'):
                    try:
                        open(os.path.join(root, 'dlgrade-tampered'), 'w').write('x')
                    except OSError:
                        pass
                os._exit(0)
            os._exit(0)
        """ + STUB, {}),
    "loop_at_import": ("while True:\n    pass\n", {}),
    "sigterm_loop": ("import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + STUB.replace(
        'raise NotImplementedError("relu: not implemented yet")', "while True:\n        pass"), {}),
    "exits": (STUB.replace('raise NotImplementedError("sigmoid: not implemented yet")', "import sys; sys.exit(0)").replace(
        'raise NotImplementedError("tanh: not implemented yet")', "import os; os._exit(3)"), {}),
    "memory_hog": (STUB.replace('raise NotImplementedError("sigmoid: not implemented yet")',
                                "return bytearray(6 * 1024**3)"), {}),
    "disk_filler": ("open('/tmp/big', 'wb').write(b'0' * (2 * 1024**3))\n" + STUB, {}),
    "chatty": (STUB.replace('raise NotImplementedError("relu: not implemented yet")',
                            "print('x' * (200 * 1024**2)); return z"), {}),
    "fork_bomb": ("import os\nfor _ in range(10000):\n    try:\n        os.fork()\n    except OSError:\n        break\n" + STUB, {}),
    "network": ("import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n" + STUB, {}),
    "writes_everywhere": (f"""
        import glob
        for path in [{str(ROOT / 'course.toml')!r}, {str(ROOT / 'autograder' / 'suites' / 'plugin.py')!r}] + glob.glob('/work/**/site-packages', recursive=True):
            try:
                open(path if path.endswith(('.toml', '.py')) else path + '/zz_evil.pth', 'a').write('# tampered\\n')
            except OSError:
                pass
        """ + STUB, {}),
    "syntax_error": ("def sigmoid(z)\n    return z\n", {}),
    "binary_garbage": (None, {"activations.py": bytes(range(256)) * 4}),
    "wrong_types": (STUB.replace('raise NotImplementedError("sigmoid: not implemented yet")', "return 'sigmoid'").replace(
        'raise NotImplementedError("relu: not implemented yet")', "return {'a': object}").replace(
        'raise NotImplementedError("softmax: not implemented yet")', "import numpy as np; return np.zeros(10**8)"), {}),
    "mutates": (STUB.replace('raise NotImplementedError("relu: not implemented yet")', "z *= (z > 0); return z"), {}),
}


def write(folder: Path, files: dict) -> None:
    folder.mkdir(parents=True)
    for name, text in files.items():
        data = text if isinstance(text, bytes) else textwrap.dedent(text).encode()
        (folder / name).write_bytes(data)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    subs = base / "submissions"
    subs.mkdir()
    write(subs / "honest", {"activations.py": (ROOT / "solutions" / "activations.py").read_text(), "losses.py": GOOD_LOSSES})
    for student, (activations, extra) in HOSTILE.items():
        files = {"losses.py": GOOD_LOSSES, **extra}
        if activations is not None:
            files["activations.py"] = activations
        write(subs / student, files)
    (subs / "symlinked").mkdir()
    (subs / "symlinked" / "activations.py").symlink_to(ROOT / "solutions" / "activations.py")
    (subs / "symlinked" / "losses.py").write_text(GOOD_LOSSES)
    course = base / "course.toml"
    course.write_text((ROOT / "course.toml").read_text().replace("call_timeout_s = 10.0", "call_timeout_s = 3.0"))
    before = (ROOT / "course.toml").read_bytes(), (ROOT / "autograder" / "suites" / "plugin.py").read_bytes()
    out = base / "out"
    parser = argparse.ArgumentParser()
    grade.add_arguments(parser)
    args = parser.parse_args([str(subs), "--out", str(out), "--only", "activations,losses", "--course", str(course)])
    status = grade.run(args)
    time.sleep(4)  # the daemon would tamper 3 s after its start: give it the chance
    results = {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
    return status, results, before, subs


def exercise_score(result: dict, exercise: str) -> tuple[float, float]:
    tests = [t for t in result["tests"] if t["tags"][0] == exercise]
    return sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)


def test_every_student_has_results(graded):
    status, results, _, subs = graded
    assert set(results) == {p.name for p in subs.iterdir()}
    assert status == 0, {s: r["output"] for s, r in results.items() if r["output"]}


def test_the_honest_student_gets_full_marks(graded):
    _, results, _, _ = graded
    score, total = exercise_score(results["honest"], "activations")
    assert score == pytest.approx(total) and total > 0


@pytest.mark.parametrize("student", sorted(HOSTILE) + ["symlinked"])
def test_other_exercise_untouched_and_attack_scores_zero(graded, student):
    _, results, _, _ = graded
    r = results[student]
    score, total = exercise_score(r, "losses")
    assert total > 0 and score == pytest.approx(total), f"{student}: losses lost points"
    score, total = exercise_score(r, "activations")
    assert total > 0 and score == 0, f"{student}: the attack earned {score} of {total}"
    assert all(t["output"] or t["status"] == "passed" or t["tags"][1] == "hidden" for t in r["tests"])


def test_messages_are_clear(graded):
    _, results, _, _ = graded

    def details(student):
        return "\n".join(t["extra_data"]["details"] for t in results[student]["tests"] if t["tags"][0] == "activations")

    assert "not implemented yet" in details("conftest")
    assert "did not finish importing within 3 s" in details("loop_at_import")
    assert "did not return within 3 s" in details("sigterm_loop")
    assert "printed more than" in details("chatty")
    assert "ran out of memory" in details("memory_hog") or "MemoryError" in details("memory_hog")
    assert "SyntaxError" in details("syntax_error")
    assert "could not be imported" in details("binary_garbage") or "SyntaxError" in details("binary_garbage")
    assert "modified its argument" in details("mutates")
    assert "ModuleNotFoundError" in details("imports_reference") or "dlref" in details("imports_reference")
    assert "FileNotFoundError" in details("reads_reference")
    text = details("wrong_types")
    assert "returned a str" in text or "expected a numpy array" in text


def test_nothing_outside_changed(graded):
    _, _, before, _ = graded
    assert (ROOT / "course.toml").read_bytes() == before[0]
    assert (ROOT / "autograder" / "suites" / "plugin.py").read_bytes() == before[1]
    assert not list(Path(ROOT / ".venv").glob("lib/*/site-packages/zz_evil.pth"))
    for root in ("/work", "/tmp", "/"):
        assert not Path(root, "dlgrade-tampered").exists()
