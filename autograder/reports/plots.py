"""Report figures drawn with matplotlib's object API (no pyplot, no global backend) as PNG data URIs."""
from __future__ import annotations

import base64
import io
import math
from contextlib import contextmanager

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Labels come from submissions (student ids, test names): "$" must not start mathtext.
STYLE = {"text.parse_math": False, "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 10,
         "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "dlgrade"}
BLUE, RED, GREY = "#3b6ea5", "#c0392b", "#95a5a6"
DPI = 100
LABEL_CHARS = 70
MAX_BARS = 40  # above this many submissions, grading times are a histogram


@contextmanager
def _figure(width: float, height: float):
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        yield fig


def data_uri(fig: Figure) -> str:
    """The figure as a PNG data URI; no metadata, so the same figure gives the same bytes."""
    buf = io.BytesIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def score_histograms(exercises: list[tuple[str, list[float], float]], bins: int = 10) -> str:
    """Small multiples: one histogram of scores per (name, scores, max score), the mean marked."""
    n = len(exercises)
    cols = min(4, max(1, n))
    rows = max(1, math.ceil(n / cols))
    with _figure(3.0 * cols, 2.2 * rows) as fig:
        axes = fig.subplots(rows, cols, squeeze=False)
        for ax in axes.flat[n:]:
            ax.set_visible(False)
        for ax, (name, scores, top) in zip(axes.flat, exercises):
            top = top or 1.0
            ax.hist(scores, bins=bins, range=(0.0, top), color=BLUE, edgecolor="white")
            if scores:
                mean = sum(scores) / len(scores)
                ax.axvline(mean, color=RED, linewidth=1.5)
                ax.set_title(f"{short(name, 30)}  (mean {mean:.1f} / {top:g})")
            else:
                ax.set_title(f"{short(name, 30)}  (no scores)")
            ax.set_xlim(0.0, top)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("points")
            ax.set_ylabel("students")
        return data_uri(fig)


def horizontal_bars(labels: list[str], values: list[float], *, xlabel: str, color: str = BLUE,
                    xmax: float | None = None, fmt: str = "{:g}", counts: bool = False) -> str:
    """A horizontal bar chart, first label on top, each bar with its value written next to it."""
    height = 0.9 + 0.32 * max(1, len(labels))
    with _figure(9.0, height) as fig:
        ax = fig.add_subplot()
        y = list(range(len(labels)))
        ax.barh(y, values, color=color)
        ax.set_yticks(y, [short(label) for label in labels])
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        top = xmax if xmax is not None else max(values, default=0.0) or 1.0
        ax.set_xlim(0.0, top * 1.12)
        if counts:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        for yi, v in zip(y, values):
            ax.text(v + top * 0.01, yi, fmt.format(v), va="center", fontsize=8)
        return data_uri(fig)


def grading_times(times: list[tuple[str, float]]) -> str:
    """Grading time per submission: one bar each, slowest first; a histogram for a large class."""
    if len(times) <= MAX_BARS:
        return horizontal_bars([s for s, _ in times], [t for _, t in times], xlabel="seconds to grade",
                               color=GREY, fmt="{:.1f} s")
    with _figure(9.0, 3.0) as fig:
        ax = fig.add_subplot()
        ax.hist([t for _, t in times], bins=30, color=GREY, edgecolor="white")
        ax.set_xlabel("seconds to grade")
        ax.set_ylabel("submissions")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        return data_uri(fig)


def confusion_matrix(matrix: list[list[int]], class_names: list[str]) -> str:
    """Heatmap of the confusion matrix (rows: true class, columns: predicted), counts written in."""
    n = len(matrix)
    names = [short(str(c), 14) for c in class_names[:n]] + [str(i) for i in range(len(class_names), n)]
    with _figure(7.0, 6.0) as fig:
        ax = fig.add_subplot()
        image = ax.imshow(matrix, cmap="Blues", vmin=0)
        fig.colorbar(image, ax=ax, shrink=0.8, label="test images")
        ax.set_xticks(range(n), names, rotation=45, ha="right")
        ax.set_yticks(range(n), names)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.spines[:].set_visible(False)
        peak = max((max(row) for row in matrix if row), default=0) or 1
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                if count:
                    ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                            color="white" if count > peak / 2 else "black")
        return data_uri(fig)


def per_class_accuracy(per_class: dict[str, float | None]) -> str:
    """Accuracy of each class on the test set, as percentages."""
    items = [(name, value) for name, value in per_class.items() if value is not None]
    return horizontal_bars([n for n, _ in items], [100.0 * v for _, v in items], xlabel="test accuracy (%)",
                           xmax=100.0, fmt="{:.1f} %")


def training_history(history: dict[str, list[float | None]]) -> str:
    """Training curves: losses on the left, every other metric on the right, per epoch."""
    with _figure(9.0, 3.0) as fig:
        left, right = fig.subplots(1, 2)
        for name, values in history.items():
            points = [(i + 1, v) for i, v in enumerate(values) if isinstance(v, (int, float))]
            if not points:
                continue
            ax = left if "loss" in name else right
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, label=short(name, 30))
        for ax, title in ((left, "loss"), (right, "metrics")):
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            if ax.lines:
                ax.legend(fontsize=8)
        return data_uri(fig)
