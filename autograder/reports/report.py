"""`dlgrade report OUT`: feedback for each student and the class summary, rendered from OUT/results/*.json.

Nothing is regraded. Per student: feedback/<student>.html (self-contained: inline CSS, images
as data URIs) and feedback/<student>.md (for LMS comments); for the course staff: summary.html.
The same results give byte-identical files.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path
from urllib.parse import quote

from autograder.reports import analytics
from autograder.reports.aside import Aside
from autograder.reports import plots
from autograder.reports.analytics import BadResult, ClassSummary, StudentView
from autograder.reports.labs import CnnView, TransferView
from autograder.grading.gradebook import fmt
from autograder.grading.results import write_text_atomic

TEMPLATES = Path(__file__).resolve().parent / "templates"
HELP_BELOW = 0.5
TOP_TESTS = 15
UNSAFE_IN_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")  # separators and control characters
# Characters that mean something inside a Markdown line (GFM tables and strikethrough, HTML, entities);
# submission text never starts a line in the templates, so "-", "+", "1." need no escape ("#" does:
# a heading drops a closing run of them).
MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~#])")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the --out folder of `dlgrade grade` (reads its results/)")
    parser.add_argument("--help-below", type=float, default=HELP_BELOW, metavar="FRACTION",
                        help=f"list students whose total is below this fraction of the points as needing help "
                             f"(default: {HELP_BELOW})")
    parser.add_argument("--top", type=int, default=TOP_TESTS, metavar="N",
                        help=f"how many of the most-failed tests the summary lists (default: {TOP_TESTS})")


# --- template filters ---------------------------------------------------------------------------

def md_inline(text) -> str:
    """Text for a Markdown line: every Markdown and HTML character backslash-escaped, one line."""
    return MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_fence(text) -> str:
    """A fenced code block holding `text` verbatim: the fence is longer than any backtick run in it."""
    text = str(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def percent(fraction: float, digits: int = 0) -> str:
    return f"{100.0 * fraction:.{digits}f} %"


def thousands(n: int) -> str:
    return f"{n:,}"


def environment():
    """Jinja environment: HTML templates autoescaped, Markdown ones not (they escape with `md`/`fence`)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=True,
                                            default=False),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(pts=fmt, pct=percent, thousands=thousands, md=md_inline, fence=md_fence,
                       median=lambda xs: statistics.median(xs) if xs else 0.0)
    return env


# --- reading results ------------------------------------------------------------------------------

def file_name(student: str) -> str:
    """The name feedback/<name>.html is written under; BadResult for an id that could leave feedback/."""
    if student in ("", ".", "..") or student.startswith("."):
        raise BadResult(f"student id {student!r} cannot be used as a file name")
    return UNSAFE_IN_NAME.sub("_", student)


def load_results(results_dir: Path) -> tuple[list[StudentView], dict[str, str]]:
    """(checked student views, {file name: problem}) for every results/*.json; one bad file stops nothing."""
    views, problems = [], {}
    for path in sorted(results_dir.glob("*.json")):
        try:
            file_name(path.stem)
            result = json.loads(path.read_text(encoding="utf-8"))
            views.append(analytics.student_view(path.stem, result))
        except (OSError, UnicodeDecodeError) as e:
            problems[path.name] = f"cannot be read: {e}"
        except (ValueError, RecursionError) as e:  # BadResult and JSON errors
            problems[path.name] = f"not a usable results file: {e}"
    return views, problems


def mistake_names() -> dict[str, str]:
    """hint -> 'module.function: mistake' from the catalogue, to name each misconception."""
    try:
        from autograder import mistakes

        mistakes._load()
    except Exception:  # noqa: BLE001 - names are a nicety; the hint text alone groups the mistakes
        return {}
    return {m.hint: f"{m.module}.{m.function}: {m.name}" for entries in mistakes.CATALOGUE.values() for m in entries}


# --- rendering ------------------------------------------------------------------------------------------

# Every image a template may show: one the data does not allow is None, and the template skips it
# (the templates are strict: a missing key is an error, a missing image is not).
STUDENT_IMAGES = ("confusion", "per_class", "history", "transfer_per_class", "transfer_history")
SUMMARY_IMAGES = ("histograms", "most_failed", "misconceptions", "times")


def _has_values(series) -> bool:
    return any(v is not None for v in series)


def student_images(view: StudentView) -> tuple[CnnView | None, TransferView | None, dict[str, str | None]]:
    """(the CNN's report data or None, the transfer task's or None, the student's plots as data URIs, None
    where there is no data)."""
    cnn, transfer = view.cnn(), view.transfer()
    images: dict[str, str | None] = dict.fromkeys(STUDENT_IMAGES)
    if cnn is not None:
        if cnn.scored:
            images["confusion"] = plots.confusion_matrix(cnn.confusion, cnn.class_names)
            if _has_values(cnn.per_class.values()):
                images["per_class"] = plots.per_class_accuracy(cnn.per_class)
        if any(_has_values(vs) for vs in cnn.history.values()):
            images["history"] = plots.training_history(cnn.history)
    if transfer is not None:
        if transfer.scored and _has_values(transfer.per_class.values()):
            images["transfer_per_class"] = plots.per_class_accuracy(transfer.per_class)
        if any(_has_values(vs) for vs in transfer.history.values()):
            images["transfer_history"] = plots.training_history(transfer.history)
    return cnn, transfer, images


def render_student(env, view: StudentView) -> tuple[str, str]:
    """(HTML, Markdown) feedback of one student."""
    cnn, transfer, images = student_images(view)
    context = {"s": view, "cnn": cnn, "transfer": transfer, "images": images}
    return env.get_template("student.html.j2").render(context), env.get_template("student.md.j2").render(context)


def summary_images(summary: ClassSummary) -> dict[str, str | None]:
    """The class plots as data URIs, None where there is nothing to plot."""
    images: dict[str, str | None] = dict.fromkeys(SUMMARY_IMAGES)
    if summary.exercises:
        panels = [(e.name, e.scores, e.max_score) for e in summary.exercises]
        panels.append(("total", summary.totals, summary.max_total))
        images["histograms"] = plots.score_histograms(panels)
    if summary.most_failed:
        images["most_failed"] = plots.horizontal_bars(
            [f.name for f in summary.most_failed], [f.count for f in summary.most_failed],
            xlabel="students who failed the test", color=plots.RED, counts=True)
    if summary.misconceptions:
        shown = summary.misconceptions[:TOP_TESTS]
        images["misconceptions"] = plots.horizontal_bars(
            [f"[{', '.join(m.exercises)}] {m.hint}" for m in shown], [m.count for m in shown],
            xlabel="students whose answer matched the mistake", counts=True)
    if summary.times:
        images["times"] = plots.grading_times(summary.times)
    return images


def render_summary(env, summary: ClassSummary, links: dict[str, str], images: dict | None = None) -> str:
    images = summary_images(summary) if images is None else images
    return env.get_template("summary.html.j2").render(c=summary, images=images, links=links)


def class_images(out_dir: str, help_below: float = HELP_BELOW, top: int = TOP_TESTS) -> dict[str, str | None]:
    """The summary's plots from out_dir/results (they do not depend on which feedback files could be rendered)."""
    views, _ = load_results(Path(out_dir) / "results")
    return summary_images(analytics.summarize(views, help_below=help_below, top=top, mistake_names=mistake_names()))


def images_aside(out_dir: Path, help_below: float = HELP_BELOW, top: int = TOP_TESTS) -> Aside:
    """The summary's plots, drawn in a forked child while this process writes the rest (aside.py)."""
    return Aside(class_images, str(out_dir), help_below, top)


def write_reports(out_dir: Path, *, help_below: float = HELP_BELOW, top: int = TOP_TESTS,
                  problems: list[str] | None = None, images: Aside | None = None) -> list[Path]:
    """Write feedback/<student>.html and .md and summary.html from out_dir/results; the paths written.

    What could not be rendered (a malformed results file, one student's report) is appended to
    `problems` and shown in summary.html; the other students' reports are written all the same.
    `images`: the summary's plots being drawn aside (images_aside), for the same results.
    """
    out_dir = Path(out_dir)
    env = environment()
    views, bad = load_results(out_dir / "results")
    written: list[Path] = []
    links: dict[str, str] = {}
    used: dict[str, str] = {}
    for view in views:
        name = file_name(view.student)
        if used.setdefault(name, view.student) != view.student:
            bad[f"{view.student}.json"] = f"its feedback file name {name!r} is also {used[name]!r}'s"
            continue
        try:
            html, md = render_student(env, view)
        except Exception as e:  # noqa: BLE001 - one student's odd data must not stop the class
            bad[f"{view.student}.json"] = f"the report could not be rendered: {type(e).__name__}: {e}"
            continue
        for suffix, text in ((".html", html), (".md", md)):
            path = out_dir / "feedback" / f"{name}{suffix}"
            write_text_atomic(path, text)
            written.append(path)
        links[view.student] = f"feedback/{quote(name, safe='')}.html"
    summary = analytics.summarize(views, help_below=help_below, top=top, problems=bad, mistake_names=mistake_names())
    path = out_dir / "summary.html"
    write_text_atomic(path, render_summary(env, summary, links, images.result() if images is not None else None))
    written.append(path)
    if problems is not None:
        problems += [f"{file}: {problem}" for file, problem in summary.problems.items()]
    return written


def run(args: argparse.Namespace) -> int:
    results = args.out / "results"
    if not results.is_dir():
        print(f"dlgrade report: {results} does not exist; grade first with "
              f"`dlgrade grade SUBMISSIONS --out {args.out}`", file=sys.stderr)
        return 2
    if not any(results.glob("*.json")):
        print(f"dlgrade report: no results files (*.json) in {results}; grade first", file=sys.stderr)
        return 2
    if not 0.0 <= args.help_below <= 1.0:
        print(f"dlgrade report: --help-below {args.help_below:g}: expected a fraction between 0 and 1 "
              "(0.5 lists students below half the points)", file=sys.stderr)
        return 2
    if args.top < 1:
        print("dlgrade report: --top must be at least 1", file=sys.stderr)
        return 2
    problems: list[str] = []
    written = write_reports(args.out, help_below=args.help_below, top=args.top, problems=problems)
    students = sum(1 for p in written if p.suffix == ".html" and p.parent.name == "feedback")
    print(f"Feedback:  {args.out / 'feedback'}/<student>.html and .md ({students} students)")
    print(f"Summary:   {args.out / 'summary.html'}")
    for problem in problems:
        print(f"dlgrade report: {problem}", file=sys.stderr)
    return 1 if problems else 0
