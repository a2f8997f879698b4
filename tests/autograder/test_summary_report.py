"""summary.html for TAs: the total in view at 1200 px, most-failed tests from every exercise, and
grading times that stay true when results are reused."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.reports import analytics
from autograder.reports import report
from autograder.course.config import EXERCISES
from autograder.grading.results import SubmissionResult
from autograder.grading.results import TestResult as Result  # pytest would collect a Test* name

ROOT = Path(__file__).resolve().parents[2]
SOLUTION = (ROOT / "solutions" / "activations.py").read_text()
NAMES = ("ada-perfect", "cara-softmax-overflow", "eva-adam-no-bias-correction", "finn-backprop-db-averaged")


def view(student: str, tests: list[Result], **extra) -> analytics.StudentView:
    d = SubmissionResult(student=student, tests=tests).to_dict()
    d["extra_data"].update(extra)
    return analytics.student_view(student, d)


def t(exercise: str, test: str, passed: bool) -> Result:
    return Result(exercise, f"{exercise}::public::{test}", f"{exercise}: {test}", hidden=False, passed=passed,
                  score=1.0 if passed else 0.0, max_score=1.0)


# --- most-failed tests: no exercise fills the list --------------------------------------------------

def test_one_exercise_with_many_failed_tests_cannot_fill_the_most_failed_list():
    # conv: 20 tests every submitter fails (a stub); activations and losses: a few tests, failed by fewer.
    views = [view(s, [*(t("conv", f"c{i:02d}", False) for i in range(20)),
                      t("activations", "a1", s != "s3"), t("activations", "a2", s == "s1"), t("losses", "l1", s != "s1")])
             for s in ("s1", "s2", "s3")]
    listed = analytics.most_failed(views, top=6)
    assert [f.test_id for f in listed] == [
        "activations::public::a2", "activations::public::a1",  # each exercise's own most failed, by exercise
        "losses::public::l1",
        "conv::public::c00", "conv::public::c01", "conv::public::c02",
    ]
    assert [f.count for f in listed] == [2, 1, 1, 3, 3, 3]
    # With room for one test per exercise and no more, each exercise gets its most failed.
    assert {f.exercise for f in analytics.most_failed(views, top=3)} == {"activations", "losses", "conv"}


# --- grading time: the time results took when they were graded ------------------------------------------

def test_the_time_chart_uses_the_time_results_took_when_graded():
    reused = view("ana", [t("activations", "a1", True)], graded_seconds=4.5)
    old = view("bob", [t("activations", "a1", True)])  # a results file written before graded_seconds existed
    assert reused.execution_time == 4.5 and old.execution_time == 0.0
    with pytest.raises(analytics.BadResult, match="graded_seconds"):
        view("eve", [], graded_seconds="fast")


def sandbox_flags() -> list[str]:
    from autograder.sandbox.client import bwrap_available

    return [] if bwrap_available() else ["--unsafe-no-sandbox"]


def test_a_rerun_that_reuses_every_result_keeps_the_grading_times(tmp_path):
    subs = tmp_path / "subs"
    for name, text in (("ana", SOLUTION), ("bob", SOLUTION.replace("return np.maximum(0.0, z)", "return z"))):
        (subs / name).mkdir(parents=True)
        (subs / name / "activations.py").write_text(text)
    course = tmp_path / "course.toml"
    course.write_text("[grading]\nmax_examples = 3\n")
    command = [sys.executable, "-m", "autograder", "grade", str(subs), "--out", str(tmp_path / "out"),
               "--only", "activations", "--course", str(course), *sandbox_flags()]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = []
    for _ in range(2):  # the second run grades nothing: every view is reused (OUT/.reuse)
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        results.append({s: json.loads((tmp_path / "out" / "results" / f"{s}.json").read_text()) for s in ("ana", "bob")})
    first, again = results
    assert again["ana"]["extra_data"]["reused"] == ["activations"]
    assert again["ana"]["execution_time"] == 0.0  # nothing was graded for it this time
    for s in ("ana", "bob"):
        assert first[s]["extra_data"]["graded_seconds"] > 0.1
        assert again[s]["extra_data"]["graded_seconds"] > 0.1  # as when graded, not 0.0
    summary = (tmp_path / "out" / "summary.html").read_text()
    slowest = re.search(r"slowest (\d+\.\d) s", summary)
    assert slowest and float(slowest.group(1)) > 0.0, slowest


# --- the All students table at 1200 px --------------------------------------------------------------------

def _screenshot_module():
    spec = importlib.util.spec_from_file_location("dlgrade_screenshot", ROOT / "scripts" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MEASURE = """<script>
var table = document.querySelector('#students ~ .wide table');
var total = Array.from(table.querySelectorAll('th')).find(function (th) { return /^total/.test(th.textContent.trim()); });
var box = table.parentElement.getBoundingClientRect();
document.body.setAttribute('data-layout', JSON.stringify({
  total_right: total.getBoundingClientRect().right, visible_right: box.right,
  viewport: document.documentElement.clientWidth}));
</script></body>"""


def layout(html: Path, width: int, tmp_path: Path) -> dict:
    """Where the All students table's total header ends, in a `width` px window of headless Chromium."""
    screenshot = _screenshot_module()
    try:
        chromium = screenshot.find_chromium()
    except screenshot.ScreenshotError as e:
        pytest.fail(f"{e}. The layout check of summary.html needs it.", pytrace=False)
    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text().replace("</body>", MEASURE))
    done = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},900", "--dump-dom",
                           probe.as_uri()], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp_path)})
    found = re.search(r'data-layout="([^"]*)"', done.stdout)
    assert found, done.stderr[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"'))


def test_the_total_column_is_in_view_at_1200_px(tmp_path):
    out = tmp_path / "out"
    (out / "results").mkdir(parents=True)
    for i, name in enumerate(NAMES):
        tests = [t(e, f"{e}-{k}", (i + k) % 3 != 0) for e in EXERCISES for k in range(3)]
        result = SubmissionResult(student=name, tests=tests).to_dict()
        result["extra_data"]["late"] = {"fraction": 0.1 if i == 1 else 0.0, "days_late": i == 1}
        (out / "results" / f"{name}.json").write_text(json.dumps(result))
    report.write_reports(out)
    box = layout(out / "summary.html", 1200, tmp_path)
    assert box["viewport"] == 1200
    assert box["total_right"] <= box["visible_right"] <= box["viewport"], box
