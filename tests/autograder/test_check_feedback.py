"""What a student sees from `dlgrade check`: the stub that really raised, what their code printed
beside a wrong value, and an infinite loop stopped by CPU time and said once per function."""
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from autograder.suites import plugin
from autograder.course.config import parse
from autograder.grading import results
from autograder.grading.runner import run_suites
from autograder.sandbox.client import CallResult, Limits, Worker
from autograder.suites.student import PRINTED_LINES, Student, StudentError

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = (ROOT / "solutions" / "activations.py").read_text()


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    return folder


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# --- 1. a stub in a helper names the helper and where it is ----------------------------------------

def test_a_stub_in_a_helper_is_named_with_its_file_and_line(tmp_path):
    folder = write(tmp_path / "sub", {
        "losses.py": """
            import numpy as np
            from helpers import clip

            def _sigmoid(z):
                raise NotImplementedError("_sigmoid: not implemented yet")

            def sigmoid_cross_entropy_grad(z, y):
                return (_sigmoid(z) - y) / z.size

            def mse(y_pred, y_true):
                raise NotImplementedError("mse: not implemented yet")

            def bce(p, y):
                return clip(p)
        """,
        "helpers.py": """
            def clip(p):
                raise NotImplementedError
        """,
    })
    with Worker(folder, Limits(timeout=5.0)) as w:
        helper = w.call("losses", "sigmoid_cross_entropy_grad", np.zeros(2), np.zeros(2))
        own = w.call("losses", "mse", np.zeros(2), np.zeros(2))
        other_file = w.call("losses", "bce", np.zeros(2), np.zeros(2))
    stub = line_of(folder / "losses.py", '"_sigmoid: not implemented yet"')
    assert helper.kind == "not_implemented"
    assert helper.message == ("sigmoid_cross_entropy_grad could not run: _sigmoid, which it calls, is not implemented "
                              f"yet (_sigmoid raised NotImplementedError at losses.py, line {stub})")
    assert own.message == ("mse is not implemented yet (it raised NotImplementedError at losses.py, "
                           f"line {line_of(folder / 'losses.py', 'mse: not implemented')})")
    assert other_file.message.startswith("bce could not run: clip, which it calls, is not implemented yet "
                                         "(clip raised NotImplementedError at helpers.py, line 2)")


def test_a_forged_raiser_field_is_a_protocol_error():
    from autograder.inside.protocol import ProtocolError
    from autograder.sandbox.messages import check_reply as _check_reply

    reply = {"id": 1, "ok": False, "kind": "not_implemented", "type": "NotImplementedError", "message": "",
             "traceback": "", "line": 3, "raiser": "a\nb"}
    with pytest.raises(ProtocolError, match="raiser"):
        _check_reply(reply, 1, call=True)


# --- 2. output printed before a wrong value is shown with the failure ------------------------------

class FakeWorker:
    """Answers each call with the CallResult `answer(function)` gives; counts the calls it got."""

    limits = Limits(timeout=10.0)

    def __init__(self, answer):
        self.answer, self.got = answer, []

    def call(self, module, function, *args, **kwargs):
        self.got.append((function, None))
        return self.answer(function)

    def map(self, module, function, calls, timeout=None, cpu=None):
        self.got.append((function, cpu))
        result = self.answer(function)
        return CallResult(ok=True, value=[result.value] * len(calls), stdout=result.stdout) if result.ok else result


def test_printed_output_is_kept_per_test_and_capped_at_its_last_lines():
    student = Student(FakeWorker(lambda f: CallResult(ok=True, value=1.0, stdout=f"{f} says hi\n")))
    student.new_test()
    student.mod.relu(1.0)
    assert student.printed_text() == "Your code printed:\nrelu says hi"
    student.new_test()
    assert student.printed_text() == ""  # each test shows its own
    for _ in range(500):
        student.mod.relu(1.0)
    text = student.printed_text()
    assert text.startswith(f"Your code printed (its last {PRINTED_LINES} lines):\n")
    assert text.splitlines()[1:] == ["relu says hi"] * PRINTED_LINES


def test_check_shows_what_the_code_printed_beside_a_wrong_value(tmp_path):
    wrong = SOLUTION.replace("def relu(z):", "def relu(z):\n    print('relu saw', z.shape)\n    return z\n\n\ndef _old(z):", 1)
    folder = write(tmp_path / "sub", {"activations.py": wrong})
    data = run_suites(folder, ["activations"], hidden=False, env={"DLGRADE_CHECK": "1"})
    [relu] = [t for t in map(results.TestResult.from_dict, data["tests"]) if t.test_id.endswith("test_recorded[relu]")]
    assert not relu.passed
    assert "values differ" in relu.details and relu.details.endswith("Your code printed:\nrelu saw (9,)")


# --- 3. an infinite loop: stopped by CPU time, said once per function, check stays short ----------------

def hung(function):
    if function == "relu":
        return CallResult(ok=False, kind="cpu_time", message="relu was stopped after 2 s of CPU time (an infinite loop?)")
    return CallResult(ok=True, value=1.0)


def test_in_check_a_function_that_hung_is_not_called_again():
    worker = FakeWorker(hung)
    student = Student(worker)
    student.hung_once, student.call_cpu = True, 2.0
    student.new_test()
    with pytest.raises(StudentError) as first:
        student.mod.relu(np.zeros(3))
    assert worker.got == [("relu", 2.0)]  # the CPU-time limit is sent with the call
    for _ in range(3):
        student.new_test()
        with pytest.raises(StudentError) as again:
            student.mod.relu.map([(np.ones(2),)])
        assert again.value.message == first.value.message  # one message: check shows it once
    assert "relu is not called again" in first.value.message
    assert student.mod.tanh(1.0) == 1.0
    assert worker.got == [("relu", 2.0), ("tanh", 2.0)]


def test_when_grading_a_function_that_hung_is_called_again_in_the_next_test():
    worker = FakeWorker(hung)
    student = Student(worker)  # grading: no hung_once, no CPU limit per call
    for _ in range(2):
        student.new_test()
        with pytest.raises(StudentError) as e:
            student.mod.relu(np.zeros(3))
        assert "not called again" not in e.value.message
    assert worker.got == [("relu", None), ("relu", None)]


def test_training_tests_get_no_cpu_stop_in_check():
    course = parse({})
    workers = plugin._Workers(Path("."), course, "none", "", Path("."), check=True)
    marked = SimpleNamespace(get_closest_marker=lambda name: object() if name == "slow_calls" else None)
    plain = SimpleNamespace(get_closest_marker=lambda name: None)
    assert workers.call_cpu(plain) == course.limits.check_call_cpu_s == 2.0
    assert workers.call_cpu(marked) is None
    grading = plugin._Workers(Path("."), course, "none", "", Path("."))
    assert grading.call_cpu(plain) is None


def test_check_of_an_exercise_with_an_infinite_loop_is_short_and_says_it_once(tmp_path):
    loop = SOLUTION.replace("def relu(z):", "def relu(z):\n    while True:\n        pass\n\n\ndef _old(z):", 1)
    folder = write(tmp_path / "sub", {"activations.py": loop})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "autograder", "check", "activations", "--dir", str(folder)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.count("relu was stopped after 2 s of CPU time") == 1, done.stdout
    assert done.stdout.count("relu is not called again") == 1
    assert "(and 1 more checks failing the same way)" in done.stdout
    assert "did not return within" not in done.stdout
    # 31.7 s before (a 10 s and a 20 s timeout); now one 2 s CPU-time stop. Generous for a loaded machine.
    assert seconds < 15, f"check took {seconds:.1f} s"
