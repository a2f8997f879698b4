"""`dlgrade report`: feedback and the class summary rendered from a really graded class.

One grading run for the module (`graded`: part of the sample class, activations only, plus a
student without activations.py and an entry that cannot be graded) writes the reports through
`dlgrade grade`; the other tests render copies of its results with crafted files added
(hostile text, a CNN result made by cnn_grading's own code, late, grader error, broken files).
"""
import base64
import contextlib
import io
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from markupsafe import escape

from autograder import cli, mistakes
from autograder.reports import analytics
from autograder.cnn import grading as cnn_grading
from autograder.sandbox import cnn as cnn_sandbox
from autograder.course import demo
from autograder.reports import report
from autograder.grading.results import SubmissionResult
from autograder.grading.results import TestResult as Result  # pytest would collect a Test* name
from autograder.sandbox.client import bwrap_available

SAMPLE = ("ada-perfect", "cara-softmax-overflow", "gus-crashing", "jo-zipped.zip")
NO_ACTIVATIONS = "nora-no-activations"
WRONG_TYPE = "zed-wrong-type"
SCRIPT = '<script>alert("pwned")</script>'
DATA_IMG = re.compile(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@dataclass
class Run:
    out: Path
    status: int
    stdout: str
    stderr: str


def dlgrade(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return Run(Path(), status, out.getvalue(), err.getvalue())


def sandbox_flag() -> list[str]:
    return [] if bwrap_available() else ["--unsafe-no-sandbox"]  # the sample class is our own code


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Run:
    subs = tmp_path_factory.mktemp("subs")
    for name in SAMPLE:
        src = demo.EXAMPLES / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, subs / name)
    (subs / NO_ACTIVATIONS).mkdir()
    shutil.copy2(demo.EXAMPLES / "cara-softmax-overflow" / "losses.py", subs / NO_ACTIVATIONS / "losses.py")
    (subs / f"{WRONG_TYPE}.rar").write_text("my answers are in my head\n")  # a try, in a type not graded
    out = tmp_path_factory.mktemp("graded")
    run = dlgrade("grade", str(subs), "--out", str(out), "--only", "activations", "--jobs", "2", *sandbox_flag())
    run.out = out
    return run


def esc(text: str) -> str:
    """Text as the HTML templates show it (jinja's autoescape)."""
    return str(escape(text))


def results_of(out: Path, student: str) -> dict:
    return json.loads((out / "results" / f"{student}.json").read_text())


def feedback(out: Path, student: str) -> tuple[str, str]:
    return ((out / "feedback" / f"{student}.html").read_text(), (out / "feedback" / f"{student}.md").read_text())


def softmax_no_shift_hint() -> str:
    mistakes.hints_for("activations", "softmax", (np.zeros((1, 2)),), {})  # loads the catalogue
    return next(m.hint for m in mistakes.CATALOGUE[("activations", "softmax")] if m.name == "softmax_no_shift")


def copy_class(graded: Run, dest: Path) -> Path:
    shutil.copytree(graded.out / "results", dest / "results")
    return dest


def write_result(out: Path, result: SubmissionResult, name: str | None = None, **extra) -> None:
    d = result.to_dict()
    d["extra_data"].update(extra)
    (out / "results" / f"{name or result.student}.json").write_text(json.dumps(d))


def cnn_report_data(accuracy_target: float = 0.8) -> dict:
    """data["cnn"] exactly as the hidden CNN suite records it: Graded.report() over metrics()."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 20)
    logits = rng.normal(size=(200, 10))
    right = rng.random(200) < accuracy_target
    logits[np.arange(200), np.where(right, labels, (labels + 1) % 10)] += 10.0
    plan = cnn_sandbox.DevicePlan(gpu=False, backend="tensorflow", description="CPU")
    run = cnn_grading.TrainingRun(
        budget_s=60.0, plan=plan, model_file=Path("model.keras"), source="model.keras", wall_s=41.0,
        report={"device": "CPU", "seconds": 38.5, "epochs": 3, "finished": True, "returned": "History",
                "history": {"loss": [1.2, 0.7, 0.5], "accuracy": [0.6, 0.75, 0.8],
                            "val_loss": [0.9, 0.6, 0.55], "val_accuracy": [0.7, 0.78, 0.8]}})
    evaluation = cnn_grading.Evaluation(params=52_138, layers=["Conv2D", "MaxPooling2D", "Flatten", "Dense"],
                                        outputs=logits, seconds=1.5)
    scores = cnn_grading.metrics(logits, labels, output_logits=True)
    return cnn_grading.Graded(run=run, evaluation=evaluation, scores=scores, max_params=100_000).report()


def cnn_student(name: str = "carl-cnn") -> SubmissionResult:
    data = cnn_report_data()
    return SubmissionResult(student=name, execution_time=55.0, tests=[
        Result("cnn", "cnn::hidden::test_model_loads_safely", "cnn: the trained model was saved", hidden=True,
                   passed=True, score=1.0, max_score=1.0, data={"cnn": data}),
        Result("cnn", "cnn::hidden::test_accuracy_at_least[0.85]", "cnn: test accuracy is at least [0.85]",
                   hidden=True, passed=False, score=0.0, max_score=6.0,
                   details=f"test accuracy {data['accuracy']:.4f} is below 0.85 SECRET-CNN-DETAIL"),
    ])


def hostile_student(name: str) -> SubmissionResult:
    return SubmissionResult(student=name, execution_time=3.0, tests=[
        Result("activations", "activations::public::test_x", f"activations: <b>bold</b> {SCRIPT}", hidden=False,
                   passed=False, score=0.0, max_score=1.0,
                   details=f"relu returned {SCRIPT} and ````fenced```` text",
                   hint='<img src=x onerror="alert(1)"> use `np.maximum`'),
        Result("activations", "activations::hidden::test_y", "activations: hidden one", hidden=True, passed=False,
                   score=0.0, max_score=1.0, details=f"HIDDEN-DETAIL {SCRIPT}", hint="HIDDEN-HINT"),
    ])


# --- the graded class, reports written by `dlgrade grade` ----------------------------------------------

def test_grade_writes_feedback_and_summary(graded):
    students = sorted(p.stem for p in (graded.out / "results").glob("*.json"))
    assert len(students) == len(SAMPLE) + 2
    for s in students:
        page, md = feedback(graded.out, s)
        assert f"Feedback for {esc(s)}" in page and md.startswith("# Feedback for ")
    summary = (graded.out / "summary.html").read_text()
    assert all(f'href="feedback/{s}.html"' in summary for s in students)
    assert "summary.html" in graded.stdout and "feedback" in graded.stdout
    assert graded.status == 1  # zed could not be graded: named on stderr, reports all the same
    assert WRONG_TYPE in graded.stderr and "feedback and summary.html not written" not in graded.stderr


def test_a_known_mistakes_hint_is_in_that_students_report_only(graded):
    hint = softmax_no_shift_hint()
    cara = results_of(graded.out, "cara-softmax-overflow")
    assert any(t["extra_data"]["hint"] == hint for t in cara["tests"]), "the sample should match the mistake"
    page, md = feedback(graded.out, "cara-softmax-overflow")
    assert esc(hint) in page
    assert report.md_inline(hint) in md
    for other in ("ada-perfect", "jo-zipped"):
        assert esc(hint) not in feedback(graded.out, other)[0]


def test_failed_public_tests_show_the_call_expected_and_got(graded):
    cara = results_of(graded.out, "cara-softmax-overflow")
    public = [t for t in cara["tests"] if t["status"] == "failed" and t["tags"][1] == "public"]
    assert public
    page, md = feedback(graded.out, "cara-softmax-overflow")
    for t in public:
        assert esc(t["name"]) in page
        assert esc(t["extra_data"]["details"]) in page
        assert t["extra_data"]["details"] in md  # verbatim inside a code fence
        assert "expected:" in t["extra_data"]["details"] and "got:" in t["extra_data"]["details"]


def test_hidden_tests_show_only_their_name_and_failed(graded):
    cara = results_of(graded.out, "cara-softmax-overflow")
    public_text = "\n".join(t["extra_data"]["details"] for t in cara["tests"] if t["tags"][1] == "public")
    hidden = [t for t in cara["tests"] if t["status"] == "failed" and t["tags"][1] == "hidden"]
    secret_lines = [line.strip() for t in hidden for line in t["extra_data"]["details"].splitlines()
                    if len(line.strip()) > 20 and line.strip() not in public_text]
    assert hidden and secret_lines, "cara should fail hidden tests with details of their own"
    page, md = feedback(graded.out, "cara-softmax-overflow")
    for t in hidden:
        assert esc(t["name"]) in page
    for line in secret_lines:
        assert esc(line) not in page and line not in md
        assert report.md_inline(line) not in md


def test_passed_tests_are_folded(graded):
    page, _ = feedback(graded.out, "ada-perfect")
    ada = results_of(graded.out, "ada-perfect")
    assert all(t["status"] == "passed" for t in ada["tests"])
    folded = re.search(r"<details>(.*?)</details>", page, re.S)
    assert folded and f"{len(ada['tests'])} test(s) passed" in folded.group(1)
    assert all(esc(t["name"]) in folded.group(1) for t in ada["tests"])
    assert 'class="test"' not in page  # no failed-test box


def test_not_submitted_and_could_not_grade_are_said_plainly(graded):
    page, md = feedback(graded.out, NO_ACTIVATIONS)
    assert "Not submitted" in page and "<code>activations.py</code>" in page and "not submitted" in md
    page, md = feedback(graded.out, WRONG_TYPE)
    reason = results_of(graded.out, WRONG_TYPE)["extra_data"]["could_not_grade"]
    assert reason and "could not be graded" in page and esc(reason) in page
    assert reason in md
    summary = (graded.out / "summary.html").read_text()
    could_not = summary.split("Could not grade (1)")[1].split("</table>")[0]
    assert WRONG_TYPE in could_not and esc(reason) in could_not


def test_summary_groups_the_misconception_with_its_students(graded):
    summary = (graded.out / "summary.html").read_text()
    section = summary.split('id="misconceptions"')[1].split('id="help"')[0]
    row = next(r for r in section.split("<tr>") if esc(softmax_no_shift_hint()) in r)
    assert 'href="feedback/cara-softmax-overflow.html"' in row
    assert "activations.softmax: softmax_no_shift" in row
    help_section = summary.split('id="help"')[1].split('id="time"')[0]
    for student in ("gus-crashing", NO_ACTIVATIONS, WRONG_TYPE):
        assert f">{student}<" in help_section
    assert ">ada-perfect<" not in help_section


def test_summary_has_plots_and_grading_times(graded):
    summary = (graded.out / "summary.html").read_text()
    images = DATA_IMG.findall(summary)
    assert len(images) == 4  # histograms, most-failed tests, misconceptions, grading times
    assert all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    # Slowest first (the time the results took when graded), ties (students graded in one task share its time) by name.
    def graded_seconds(result: dict) -> float:
        return result["extra_data"].get("graded_seconds", result["execution_time"])

    seconds, student = min((-graded_seconds(results_of(graded.out, p.stem)), p.stem)
                           for p in (graded.out / "results").glob("*.json"))
    assert f"slowest {-seconds:.1f} s ({student})" in summary


def test_reports_are_self_contained(graded):
    for path in [graded.out / "summary.html", *(graded.out / "feedback").glob("*.html")]:
        text = path.read_text()
        assert "<script" not in text and "<link" not in text and "@import" not in text
        for url in re.findall(r'(?:src|href)="([^"]*)"', text):
            assert url.startswith(("data:image/png;base64,", "#", "feedback/")), (path.name, url[:80])


# --- crafted results next to the real ones --------------------------------------------------------

def test_submission_text_is_escaped_in_html_and_neutralised_in_markdown(graded, tmp_path):
    out = copy_class(graded, tmp_path)
    write_result(out, hostile_student("mallory<i>"))
    assert dlgrade("report", str(out)).status == 0
    page, md = feedback(out, "mallory<i>")
    assert "<script" not in page and "<img src=x" not in page and "<b>bold" not in page
    assert esc(f"relu returned {SCRIPT}") in page
    assert "&lt;img src=x onerror=" in page
    assert "HIDDEN-DETAIL" not in page + md and "HIDDEN-HINT" not in page + md
    fence = re.search(r"^(`{3,})text\n(.*?)\n\1$", md, re.S | re.M)
    assert fence and len(fence.group(1)) == 5 and SCRIPT in fence.group(2)  # longer than the ```` inside
    outside = md.replace(fence.group(0), "")
    assert re.search(r"(?<!\\)[<>`]", outside) is None, "a bare <, > or ` outside the fence"
    assert "\\<img src=x" in outside and "\\<script\\>" in outside
    summary = (out / "summary.html").read_text()
    assert "mallory<i>" not in summary and "mallory&lt;i&gt;" in summary
    assert 'href="feedback/mallory%3Ci%3E.html"' in summary


def test_cnn_section_shows_accuracy_per_class_and_confusion_matrix(graded, tmp_path):
    out = copy_class(graded, tmp_path)
    student = cnn_student()
    write_result(out, student)
    data = student.tests[0].data["cnn"]
    assert dlgrade("report", str(out)).status == 0
    page, md = feedback(out, student.student)
    assert f"{100 * data['accuracy']:.1f} %" in page and f"{100 * data['accuracy']:.1f} %" in md
    for name, value in data["per_class_accuracy"].items():
        assert f"| {report.md_inline(name)} | {100 * value:.1f} % |" in md
    img = re.search(r'<img [^>]*alt="confusion matrix" src="data:image/png;base64,([^"]+)"', page)
    assert img and base64.b64decode(img.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'alt="test accuracy per class"' in page and 'alt="training history"' in page
    assert "SECRET-CNN-DETAIL" not in page + md and esc(student.tests[1].name) in page
    matrix = report.plots.confusion_matrix(data["confusion_matrix"], data["class_names"])
    assert matrix.split(",", 1)[1] == img.group(1)  # the matrix drawn is this result's


def test_cnn_results_without_a_model_or_training_curves_render(graded, tmp_path):
    """cnn.py not submitted, or train crashed: the CNN data has no history and no scores; what is missing
    is not shown, and every report is written (the summary's counts agree)."""
    out = copy_class(graded, tmp_path)
    plan = cnn_sandbox.DevicePlan(gpu=False, backend="tensorflow", description="CPU",
                                  note="NVIDIA device files are present but no Keras backend can train on a GPU")
    runs = {"nell-no-cnn": cnn_grading.TrainingRun(budget_s=60.0, plan=plan, failure="cnn.py was not submitted",
                                                   failure_kind="not_submitted"),
            "cleo-crashed": cnn_grading.TrainingRun(budget_s=60.0, plan=plan, failure="train raised ValueError",
                                                    report={"history": "not a dict", "epochs": None})}
    for name, run in runs.items():
        data = cnn_grading.Graded(run=run, evaluation=None, scores=None, max_params=100_000).report()
        write_result(out, SubmissionResult(student=name, execution_time=2.0, tests=[
            Result("cnn", "cnn::hidden::test_model_loads_safely", "cnn: the trained model was saved", hidden=True,
                   passed=False, score=0.0, max_score=1.0, details=run.failure, data={"cnn": data})]))
    run = dlgrade("report", str(out))
    assert run.status == 0, run.stderr
    for name in runs:
        page, md = feedback(out, name)
        assert "was not scored on the test set" in page and 'alt="training history"' not in page
        assert "Trained on the CPU: NVIDIA device files are present" in page and "Trained on the CPU" in md
    summary = (out / "summary.html").read_text()
    assert "could not be rendered" not in summary
    results = len(list((out / "results").glob("*.json")))
    assert len(list((out / "feedback").glob("*.html"))) == results


def test_late_penalty_and_grader_errors(graded, tmp_path):
    out = copy_class(graded, tmp_path)
    late = SubmissionResult(student="lara-late", tests=[
        Result("activations", "activations::public::a", "activations: a", hidden=False, passed=True,
                   score=8.0, max_score=8.0),
        Result("activations", "activations::public::b", "activations: b", hidden=False, passed=False,
                   score=0.0, max_score=2.0, details="grader error: KeyError: 'x'", grader_error=True),
    ])
    write_result(out, late, late={"policy": "per_day", "days_late": 2, "seconds_late": 1.5e5, "fraction": 0.25})
    assert dlgrade("report", str(out)).status == 0
    page, md = feedback(out, "lara-late")
    assert "Late penalty: &minus;2.00 points" in page and "25 %" in page and "6.00</strong> / 10.00" in page
    assert "Late penalty: −2.00 points" in md
    assert "the grader's fault, not yours" in page and "KeyError" not in page
    assert "the grader's fault, not yours" in md
    summary = (out / "summary.html").read_text()
    assert "the grader failed on 1 test(s)" in summary.split('id="help"')[1]


def test_a_broken_results_file_is_reported_and_stops_nobody(graded, tmp_path):
    out = copy_class(graded, tmp_path)
    (out / "results" / "broken.json").write_text('{"tests": [')
    (out / "results" / "partial.json").write_text(json.dumps({"tests": [{"name": "x", "status": "passed"}]}))
    (out / "results" / "...json").write_text(json.dumps(SubmissionResult(student="..").to_dict()))
    run = dlgrade("report", str(out))
    assert run.status == 1
    for name in ("broken.json", "partial.json", "...json"):
        assert name in run.stderr
    summary = (out / "summary.html").read_text()
    assert "could not be rendered (3)" in summary and "partial.json" in summary and "no exercise tag" in summary
    written = sorted(p.name for p in (out / "feedback").iterdir())
    assert written == sorted(f"{p.stem}{s}" for p in (graded.out / "results").glob("*.json") for s in (".html", ".md"))
    assert not (out / ".html").exists() and not (tmp_path / ".html").exists()


def test_same_results_give_byte_identical_reports(graded, tmp_path):
    first, second = copy_class(graded, tmp_path / "a"), copy_class(graded, tmp_path / "b")
    for out in (first, second):
        write_result(out, cnn_student())
    written = [report.write_reports(out) for out in (first, second)]
    assert [p.relative_to(first) for p in written[0]] == [p.relative_to(second) for p in written[1]]
    for a, b in zip(*written):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert b"Software" not in base64.b64decode(DATA_IMG.search((first / "summary.html").read_text()).group(1))


# --- pieces -----------------------------------------------------------------------------------------------

def test_report_command_usage_errors(tmp_path):
    run = dlgrade("report", str(tmp_path))
    assert run.status == 2 and "results" in run.stderr and "dlgrade grade" in run.stderr
    (tmp_path / "results").mkdir()
    assert dlgrade("report", str(tmp_path)).status == 2
    write_result(tmp_path, hostile_student("x"))
    run = dlgrade("report", str(tmp_path), "--help-below", "50")
    assert run.status == 2 and "--help-below" in run.stderr and not (tmp_path / "summary.html").exists()


def test_markdown_helpers():
    assert report.md_fence("a ``` b") == "````text\na ``` b\n````"
    assert report.md_fence("plain") == "```text\nplain\n```"
    assert report.md_inline("<b>x|y</b>\n*z*") == "\\<b\\>x\\|y\\</b\\> \\*z\\*"


def test_html_templates_autoescape_and_markdown_does_not():
    env = report.environment()
    assert sorted(env.list_templates()) == ["_style.css.j2", "regrade.html.j2", "similarity.html.j2", "student.html.j2",
                                           "student.md.j2", "summary.html.j2"]
    assert env.from_string("{{ x }}").render(x="<i>") == "&lt;i&gt;"
    assert env.autoescape("summary.html.j2") and env.autoescape("student.html.j2")
    assert not env.autoescape("student.md.j2")


def test_file_names_cannot_leave_the_feedback_folder():
    for bad in ("..", ".", "", ".hidden"):
        with pytest.raises(analytics.BadResult):
            report.file_name(bad)
    assert report.file_name("a\\b\x00c\nd") == "a_b_c_d"
    assert report.file_name("josé garcía") == "josé garcía"


def _view(student: str, tests: list[Result], **extra) -> analytics.StudentView:
    d = SubmissionResult(student=student, tests=tests).to_dict()
    d["extra_data"].update(extra)
    return analytics.student_view(student, d)


def _t(exercise: str, test: str, passed: bool, hint: str = "", details: str = "", score: float = 1.0):
    return Result(exercise, f"{exercise}::public::{test}", f"{exercise}: {test}", hidden=False, passed=passed,
                      score=score if passed else 0.0, max_score=score, details=details, hint=hint)


def test_analytics_counts_students_not_tests():
    missing = analytics.NOT_SUBMITTED.format(exercise="conv")
    views = [
        _view("a", [_t("activations", "s1", False, hint="H"), _t("activations", "s2", False, hint="H"),
                    _t("conv", "c1", False, details=missing)]),
        _view("b", [_t("activations", "s1", False, hint="H"), _t("activations", "s2", True),
                    _t("conv", "c1", True)]),
        _view("c", [_t("activations", "s1", True), _t("activations", "s2", True), _t("conv", "c1", True)]),
    ]
    summary = analytics.summarize(views, help_below=0.5)
    (m,) = summary.misconceptions
    assert (m.hint, m.students, m.count, m.tests) == ("H", ["a", "b"], 2, 3)
    failed = {f.test_id: (f.count, f.attempted) for f in summary.most_failed}
    assert failed == {"activations::public::s1": (2, 3), "activations::public::s2": (1, 3)}  # a's conv: not submitted
    assert [h.student for h in summary.needs_help] == ["a"]  # 0 of 3 points; b has 2 of 3
    assert "not submitted: conv" in summary.needs_help[0].reasons
    assert [e.name for e in summary.exercises] == ["activations", "conv"]
    assert summary.exercises[1].submitted == 2


def test_student_view_rejects_malformed_results():
    with pytest.raises(analytics.BadResult, match="status"):
        analytics.student_view("x", {"tests": [{"tags": ["conv"], "status": "maybe", "score": 0, "max_score": 1}]})
    with pytest.raises(analytics.BadResult, match="score"):
        analytics.student_view("x", {"tests": [{"tags": ["conv"], "status": "passed", "score": "1", "max_score": 1}]})
    with pytest.raises(analytics.BadResult, match="object"):
        analytics.student_view("x", [1, 2])
