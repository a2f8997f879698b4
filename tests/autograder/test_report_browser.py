"""The HTML reports render in a real browser: headless Chromium (scripts/screenshot.py) to PNG.

Not skipped without Chromium: CI installs it (scripts/system-deps.sh); elsewhere these tests fail
saying how to install it.
"""
import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from autograder.cnn import grading as cnn_grading
from autograder.sandbox import cnn as cnn_sandbox
from autograder.reports import report
from autograder.grading.results import SubmissionResult
from autograder.grading.results import TestResult as Result  # pytest would collect a Test* name

ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1280, 1600
INJECTED = "<script>document.body.innerHTML = 'PWNED'</script>"


def _load_script():
    spec = importlib.util.spec_from_file_location("dlgrade_screenshot", ROOT / "scripts" / "screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


screenshot = _load_script()


def shoot(html: Path, png: Path, height: int = HEIGHT) -> np.ndarray:
    """The page as an (H, W, 3) float array; fails (never skips) when Chromium is missing."""
    try:
        screenshot.find_chromium()
    except screenshot.ScreenshotError as e:
        pytest.fail(f"{e}. The browser check of the reports needs it.", pytrace=False)
    screenshot.screenshot(html, png, width=WIDTH, height=height)
    pixels = mpimg.imread(png)  # PNG: floats in [0, 1]
    return pixels[..., :3]


def blue_pixels(pixels: np.ndarray) -> int:
    """Pixels clearly bluer than red: plot bars and the confusion matrix's cells (Blues colormap)."""
    return int(((pixels[..., 2] - pixels[..., 0]) > 0.25).sum())


def cnn_data() -> dict:
    """data["cnn"] as the hidden CNN suite records it (Graded.report() over metrics())."""
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(10), 30)
    logits = rng.normal(size=(300, 10))
    logits[np.arange(300), np.where(rng.random(300) < 0.85, labels, (labels + 3) % 10)] += 8.0
    plan = cnn_sandbox.DevicePlan(gpu=False, backend="tensorflow", description="CPU")
    run = cnn_grading.TrainingRun(budget_s=60.0, plan=plan, model_file=Path("model.keras"), source="model.keras",
                                  report={"device": "CPU", "seconds": 40.0, "epochs": 2, "finished": True,
                                          "history": {"loss": [0.9, 0.5], "accuracy": [0.7, 0.85]}})
    evaluation = cnn_grading.Evaluation(params=40_000, layers=["Conv2D", "MaxPooling2D", "Dense"], outputs=logits)
    scores = cnn_grading.metrics(logits, labels, output_logits=True)
    return cnn_grading.Graded(run=run, evaluation=evaluation, scores=scores, max_params=100_000).report()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("class")
    students = [
        SubmissionResult(student="carl-cnn", execution_time=50.0, tests=[
            Result("cnn", "cnn::hidden::test_model_loads_safely", "cnn: the model loads", hidden=True, passed=True,
                   score=1.0, max_score=1.0, data={"cnn": cnn_data()})]),
        SubmissionResult(student="cara-softmax", execution_time=7.0, tests=[
            Result("activations", f"activations::public::t{i}", f"activations: check {i}", hidden=False,
                   passed=i % 2 == 0, score=1.0 if i % 2 == 0 else 0.0, max_score=1.0,
                   details="" if i % 2 == 0 else f"softmax(...) returned nan {INJECTED}",
                   hint="" if i % 2 == 0 else "subtract the max before exp")
            for i in range(6)]),
        SubmissionResult(student="gus-broken", could_not_grade="the grading run produced no test results"),
    ]
    (out / "results").mkdir()
    for s in students:
        (out / "results" / f"{s.student}.json").write_text(json.dumps(s.to_dict()))
    report.write_reports(out)
    return out


def test_summary_renders_as_a_real_page(rendered, tmp_path):
    pixels = shoot(rendered / "summary.html", tmp_path / "summary.png")
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    assert pixels.std() > 0.05, "the screenshot is (nearly) one flat colour"
    colours = np.unique((pixels.reshape(-1, 3) * 255).round().astype(np.uint8), axis=0)
    assert len(colours) > 100  # text, tables and plots, not a blank or error page
    assert blue_pixels(pixels) > 5000, blue_pixels(pixels)  # the histograms' bars


def test_feedback_images_are_drawn_by_the_browser(rendered, tmp_path):
    page = rendered / "feedback" / "carl-cnn.html"
    text = page.read_text()
    assert text.count('src="data:image/png;base64,') == 3
    without = tmp_path / "without-images.html"
    without.write_text(re.sub(r'src="data:image/png;base64,[^"]*"', 'src=""', text))
    with_images = shoot(page, tmp_path / "with.png", height=2400)
    no_images = shoot(without, tmp_path / "without.png", height=2400)
    # The embedded PNGs (per-class bars, confusion matrix, curves) decode and show in Chromium.
    shown, bare = blue_pixels(with_images), blue_pixels(no_images)
    assert shown > bare + 20000, f"{shown} blue pixels with the images, {bare} without"


def test_injected_script_shows_as_text(rendered, tmp_path):
    page = rendered / "feedback" / "cara-softmax.html"
    assert shoot(page, tmp_path / "cara.png").std() > 0.05
    done = subprocess.run([screenshot.find_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                           f"--user-data-dir={tmp_path / 'p'}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    dom = done.stdout
    assert "Feedback for cara-softmax" in dom, done.stderr[-2000:]
    # Had the student's script run, the body would be just PWNED; it is text inside <pre> instead.
    assert dom.count("&lt;script&gt;document.body.innerHTML = 'PWNED'&lt;/script&gt;") == 3
    assert "<body>PWNED" not in dom


def test_screenshot_script_says_what_is_wrong(tmp_path, capsys):
    assert screenshot.main([str(tmp_path / "missing.html"), str(tmp_path / "x.png")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert screenshot.main([str(tmp_path), "--height", "5"]) == 2
