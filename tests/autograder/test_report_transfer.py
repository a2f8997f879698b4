"""The transfer task in the reports: a result made by the transfer grading's own report(), one without a
model, and data of the wrong types, in the student feedback (HTML, Markdown) and the class summary."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from autograder.course import config as course_config
from autograder.grading.results import SubmissionResult
from autograder.grading.results import TestResult as Result  # pytest would collect a Test* name
from autograder.reports import analytics, report
from autograder.reports.labs import TransferView
from autograder.sandbox import cnn as cnn_sandbox
from autograder.transfer import grading
from autograder.transfer.evaluate import Evaluation

import sys
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_report import dlgrade, esc, feedback, write_result  # noqa: E402

CLASSES = ("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
PLAN = cnn_sandbox.DevicePlan(gpu=False, backend="tensorflow", description="CPU")
LAYERS = [  # as evaluate.compare_with_base writes them: base_conv1 frozen and unchanged, base_conv2 fine-tuned
    {"name": "base_conv1", "found": True, "trainable": False, "equal": True, "drift": 0.0},
    {"name": "base_conv2", "found": True, "trainable": True, "equal": False, "drift": 0.0042},
]


def outputs(labels: np.ndarray, right: float, seed: int) -> np.ndarray:
    """(N, 5) logits whose argmax is the label for about `right` of the rows."""
    rng = np.random.default_rng(seed)
    out = rng.normal(size=(len(labels), 5))
    hit = rng.random(len(labels)) < right
    out[np.arange(len(labels)), np.where(hit, labels, (labels + 1) % 5)] += 10.0
    return out


def transfer_report(layers=LAYERS, scratch: bool = True) -> dict:
    """data["transfer"] exactly as the hidden suite records it: grading.Graded.report()."""
    y_test = np.repeat(np.arange(5), 40)
    y_small, y_val = np.repeat(np.arange(5), 5), np.repeat(np.arange(5), 10)
    data = grading.Data(np.zeros((25, 28, 28), np.uint8), y_small, np.zeros((50, 28, 28), np.uint8), y_val,
                        np.zeros((200, 28, 28), np.uint8), y_test)
    outs = {"test": outputs(y_test, 0.8, 0), "small": outputs(y_small, 1.0, 1), "val": outputs(y_val, 0.8, 2)}
    if scratch:
        outs["scratch"] = outputs(y_test, 0.7, 3)
    run = grading.Run(budget_s=90.0, plan=PLAN, model_file=Path("model.keras"), source="model.keras", wall_s=30.0,
                      report={"seconds": 21.5, "finished": True, "returned_history": True,
                              "history": {"loss": [0.9, 0.5], "accuracy": [0.7, 0.9],
                                          "val_loss": [1.0, 0.8], "val_accuracy": [0.6, 0.75]}})
    evaluation = Evaluation(params=19_333, base_layers=layers, outputs=outs, seconds=12.0)
    return grading.Graded(course_config.Transfer(), run, evaluation, data).report()


def transfer_student(name: str, data: dict, passed: bool = True) -> SubmissionResult:
    return SubmissionResult(student=name, execution_time=60.0, tests=[
        Result("transfer", "transfer::hidden::test_model_loads_safely", "transfer: the fine-tuned model was saved",
               hidden=True, passed=passed, score=float(passed), max_score=1.0,
               details="" if passed else "SECRET-TRANSFER-DETAIL", data={"transfer": data}),
        Result("transfer", "transfer::hidden::test_beats_training_from_scratch",
               "transfer: transfer beats the same architecture trained from scratch", hidden=True, passed=False,
               score=0.0, max_score=2.0, details="SECRET-MARGIN-DETAIL"),
    ])


def results_folder(tmp_path: Path, *students: SubmissionResult) -> Path:
    (tmp_path / "results").mkdir()
    for student in students:
        write_result(tmp_path, student)
    return tmp_path


def test_report_data_holds_margin_per_class_and_layers():
    data = transfer_report()
    assert data["class_names"] == list(CLASSES) and list(data["per_class_accuracy"]) == list(CLASSES)
    assert data["margin"] == pytest.approx(data["accuracy"] - data["scratch_accuracy"])
    assert data["min_margin"] == course_config.Transfer().min_margin and data["base_layers"] == LAYERS
    y = np.repeat(np.arange(5), 40)
    for k, name in enumerate(CLASSES):  # each class's share right, from the same outputs
        assert data["per_class_accuracy"][name] == pytest.approx(np.mean(np.argmax(outputs(y, 0.8, 0), 1)[y == k] == k))
    json.dumps(data)  # what record_property stores


def test_transfer_section_shows_accuracy_scratch_margin_per_class_and_layers(tmp_path):
    data = transfer_report()
    out = results_folder(tmp_path, transfer_student("tia-transfer", data))
    run = dlgrade("report", str(out))
    assert run.status == 0, run.stderr
    page, md = feedback(out, "tia-transfer")
    acc, scratch = f"{100 * data['accuracy']:.1f} %", f"{100 * data['scratch_accuracy']:.1f} %"
    margin = f"{100 * (data['accuracy'] - data['scratch_accuracy']):+.1f}"
    for text in (page, md):
        assert "Your transfer model on Fashion-MNIST classes 5-9" in text
        assert acc in text and scratch in text and margin in text and "(needed: 3.0)" in text
        assert "frozen, unchanged" in text and "fine-tuned, moved 0.42% of its size" in text
        assert "SECRET" not in text
    for name, value in data["per_class_accuracy"].items():
        assert f"| {report.md_inline(name)} | {100 * value:.1f} % |" in md
    assert 'alt="transfer test accuracy per class"' in page and 'alt="transfer training history"' in page
    assert "check this" not in page + md  # both layers are as the rules expect
    summary = (out / "summary.html").read_text()
    labs = summary.split('id="labs"')[1].split('id="students"')[0]
    assert acc in labs and scratch in labs and margin in labs
    assert "frozen: base_conv1; fine-tuned: base_conv2" in labs and 'class="tag bad"' not in labs


def test_a_frozen_layer_that_changed_is_flagged(tmp_path):
    layers = [{**LAYERS[0], "equal": False, "drift": 0.31}, {**LAYERS[1], "equal": True, "drift": 0.0}]
    out = results_folder(tmp_path, transfer_student("tom-changed", transfer_report(layers, scratch=False)))
    assert dlgrade("report", str(out)).status == 0
    page, md = feedback(out, "tom-changed")
    assert "frozen, but its weights changed, moved 31.00% of its size" in page
    assert "fine-tuned, unchanged" in md and md.count("(check this)") == 2
    assert "could not train your architecture from scratch" in page + md
    labs = (out / "summary.html").read_text().split('id="labs"')[1].split('id="students"')[0]
    assert ">check</span>" in labs


def test_transfer_results_without_a_model_render(tmp_path):
    """transfer.py not submitted, or fine_tune crashed: no evaluation, so no accuracy, layers or curves;
    every report is written and says what is missing plainly."""
    missing = grading.Run(budget_s=90.0, plan=PLAN, failure="transfer.py was not submitted",
                          failure_kind="not_submitted", missing="transfer.py was not submitted")
    crashed = grading.Run(budget_s=90.0, plan=PLAN, failure="fine_tune raised ValueError",
                          report={"history": "not a dict", "seconds": "soon"})
    students = [transfer_student(name, grading.Graded(course_config.Transfer(), run).report(), passed=False)
                for name, run in (("nia-no-transfer", missing), ("cal-crashed", crashed))]
    out = results_folder(tmp_path, *students)
    run = dlgrade("report", str(out))
    assert run.status == 0, run.stderr
    for student in students:
        page, md = feedback(out, student.student)
        assert "was not scored on the test images" in page and "was not scored on the test images" in md
        assert "transfer training history" not in page and "base_conv1" not in page + md
        assert esc(student.tests[0].name) in page
    summary = (out / "summary.html").read_text()
    assert "could not be rendered" not in summary and 'id="labs"' in summary


def test_no_keras_lab_data_means_no_labs_section(tmp_path):
    plain = SubmissionResult(student="ann-numpy", tests=[
        Result("activations", "activations::public::a", "activations: a", hidden=False, passed=True,
               score=1.0, max_score=1.0)])
    out = results_folder(tmp_path, plain)
    assert dlgrade("report", str(out)).status == 0
    assert 'id="labs"' not in (out / "summary.html").read_text()
    assert "transfer model" not in feedback(out, "ann-numpy")[0]


def test_wrong_types_in_the_data_become_none():
    view = TransferView.from_data({"accuracy": "0.9", "scratch_accuracy": True, "per_class_accuracy": [1],
                                   "base_layers": [{"name": "base_conv1", "found": "yes"}, 7], "history": {"loss": 3}})
    assert (view.accuracy, view.scratch_accuracy, view.margin, view.per_class, view.history) == (None, None, None, {}, {})
    assert [layer.status for layer in view.base_layers] == ["not in your model (or reshaped)"]
    assert not view.scored and view.beats_scratch is None
    summary = analytics.summarize([analytics.student_view("x", transfer_student("x", {"accuracy": 0.5}).to_dict())])
    assert [(r.student, r.cnn_accuracy, r.transfer.accuracy, r.layers_ok) for r in summary.labs] == [("x", None, 0.5, None)]
    assert re.fullmatch(r"[\w-]+", summary.labs[0].student)


def test_the_base_classifier_is_expected_to_be_replaced_not_kept():
    """The model answer drops the base's 5-way classifier: that is what the task asks, not something to check."""
    rows = [{"name": "base_conv1", "found": True, "trainable": False, "equal": True, "drift": 0.0, "classifier": False},
            {"name": "base_logits", "found": False, "trainable": None, "equal": None, "drift": None, "classifier": True}]
    dropped = TransferView.from_data({"base_layers": rows}).base_layers
    assert [(layer.status, layer.ok) for layer in dropped] == [("frozen, unchanged", True),
                                                               ("replaced by your new head", True)]
    kept = TransferView.from_data({"base_layers": [{**rows[1], "found": True, "trainable": False, "equal": True,
                                                    "drift": 0.0}]}).base_layers[0]
    assert not kept.ok and "still in your model" in kept.status
