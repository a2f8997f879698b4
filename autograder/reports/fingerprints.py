"""Fingerprints and pairs for `dlgrade similarity`: pure functions from files' texts to ranked pairs.

Fingerprinting is copydetect's (winnowing over pygments tokens, as MOSS does): comments,
whitespace and docstrings are dropped and every identifier becomes one letter, so renamed
variables do not hide a copy; each top-level definition is fingerprinted on its own, so
reordered functions do not either. Each file keeps only the fingerprints of its own code:
those of the released stub are boilerplate, and those found in more than half of a large
class's files are the idiom of any correct answer. A pair's shares are the part of each
file's own fingerprints found in the other's; pairs rank by the larger share.
"""
from __future__ import annotations

import copy
import functools
import io
import re
from dataclasses import asdict, dataclass, field

K = 25  # copydetect's noise threshold: shorter matches of normalised text (about two statements) are chance
THRESHOLD = 0.6
TOP = 20
MIN_FINGERPRINTS = 20  # less own code than this (an untouched stub, one line) says nothing either way
COMMON = 0.5
COMMON_MIN_FILES = 10  # in a smaller class, "common" would be any two students who agree
DEFINITION = re.compile(r"(@|def\s|class\s|async\s+def\s)")


@dataclass
class Settings:
    """What the report was computed with (shown in it, and options of the command)."""

    k: int = K
    threshold: float = THRESHOLD
    top: int = TOP
    min_fingerprints: int = MIN_FINGERPRINTS
    common: float = COMMON
    common_min_files: int = COMMON_MIN_FILES

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Pair:
    """Two students' files of one exercise and the fingerprints they share."""

    a: str
    b: str
    shared: int
    share_a: float  # of a's own fingerprints, the share found in b's
    share_b: float
    both_match_solution: bool = False

    @property
    def score(self) -> float:
        """The larger share: a file copied into a longer one is still all copied."""
        return max(self.share_a, self.share_b)

    def to_dict(self) -> dict:
        return {**asdict(self), "score": round(self.score, 4)}


@dataclass
class SolutionMatch:
    """A student whose file matches the published model answer."""

    student: str
    share: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SideBySide:
    """Both files of a pair as HTML, the matching regions marked."""

    left: str
    right: str


@dataclass
class ExerciseSimilarity:
    """One exercise: who was compared, the ranked pairs at or above the threshold, matches of the solution."""

    exercise: str
    compared: list[str]
    too_little: list[str]  # too little code of their own to compare
    pairs: list[Pair]
    solution: list[SolutionMatch]
    common: int  # fingerprints left out as common to much of the class
    views: dict[tuple[str, str], SideBySide] = field(default_factory=dict)  # the top pairs

    def to_dict(self) -> dict:
        return {"exercise": self.exercise, "compared": self.compared, "too_little": self.too_little,
                "pairs": [p.to_dict() for p in self.pairs], "solution": [m.to_dict() for m in self.solution],
                "common": self.common}


# --- fingerprints and pairs (pure: texts in, results out) ----------------------------------------------

@dataclass
class Document:
    """One file's fingerprints: copydetect's, per top-level definition, and all of them together."""

    text: str
    parts: list  # (offset in text, copydetect.CodeFingerprint of the definition)
    hashes: set[int]


def definitions(text: str) -> list[tuple[int, str]]:
    """(offset, text) of the module head and each top-level def/class (with its decorators), in file order."""
    starts, previous = [0], ""
    for m in re.finditer(r"^.*$", text, re.M):
        line = m.group()
        if DEFINITION.match(line) and not previous.startswith("@") and m.start() > 0:
            starts.append(m.start())
        if line.strip():
            previous = line
    ends = starts[1:] + [len(text)]
    return [(a, text[a:b]) for a, b in zip(starts, ends)]


def fingerprint(text: str, k: int) -> Document:
    """Every k-gram of each definition's normalised text, by copydetect (window 1).

    Each definition is fingerprinted on its own, so that reordering functions changes no
    fingerprint. Window 1 keeps every k-gram rather than winnowing's minima: the minima depend
    on Python's per-process string hashes, and the same files must give the same report.
    """
    parts = [(offset, _definition(part, k)) for offset, part in definitions(text)]
    return Document(text, parts, set().union(*(fp.hashes for _, fp in parts)))


@functools.lru_cache(maxsize=4096)
def _definition(text: str, k: int):
    """copydetect's fingerprint of one definition (cached: module heads and untouched stubs recur)."""
    from copydetect import CodeFingerprint

    # language= skips pygments' guess from the file name, most of the cost of a small file.
    return CodeFingerprint("code.py", k, 1, fp=io.StringIO(text), language="python")


def compare_exercise(exercise: str, files: dict[str, str], stub: str | None, solution: str | None,
                     settings: Settings | None = None, views: bool = True) -> ExerciseSimilarity:
    """Rank every pair of `files` (student -> source) by shared own fingerprints; the top ones side by side."""
    settings = settings or Settings()
    k = settings.k
    # Identical files (untouched stubs, shared copies) are fingerprinted once.
    prints = {text: fingerprint(text, k) for text in set(files.values())}
    boilerplate = fingerprint(stub, k).hashes if stub else set()
    own = {s: prints[text].hashes - boilerplate for s, text in files.items()}
    candidates = sorted(s for s, h in own.items() if len(h) >= settings.min_fingerprints)
    model = fingerprint(solution, k).hashes - boilerplate if solution else set()
    # Matching the model answer is judged before common idiom is dropped: a leaked answer that
    # half the class handed in is common, and still worth listing.
    matches = {s: len(own[s] & model) / len(own[s]) for s in candidates} if model else {}
    solution_matches = sorted((SolutionMatch(s, round(x, 4)) for s, x in matches.items() if x >= settings.threshold),
                              key=lambda m: (-m.share, m.student))
    counts: dict[int, int] = {}
    for s in candidates:
        for h in own[s]:
            counts[h] = counts.get(h, 0) + 1
    common: set[int] = set()
    if len(candidates) >= settings.common_min_files:
        limit = settings.common * len(candidates)
        common = {h for h, n in counts.items() if n > limit}
    own = {s: own[s] - common for s in candidates}
    # A file whose code is all stub and common idiom says nothing about copying: its few
    # remaining fingerprints would make any chance match look like a whole copy.
    compared = [s for s in candidates if len(own[s]) >= settings.min_fingerprints]
    too_little = sorted(s for s in files if s not in compared)
    pairs = []
    for i, a in enumerate(compared):
        ha = own[a]
        for b in compared[i + 1:]:
            hb = own[b]
            shared = len(ha & hb)
            if not shared:
                continue
            pair = Pair(a, b, shared, round(shared / len(ha), 4), round(shared / len(hb), 4))
            if pair.score >= settings.threshold:
                pair.both_match_solution = min(matches.get(a, 0.0), matches.get(b, 0.0)) >= settings.threshold
                pairs.append(pair)
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.a, p.b))
    result = ExerciseSimilarity(exercise, compared, too_little, pairs, solution_matches, len(common))
    if views:
        for p in pairs[:settings.top]:
            result.views[(p.a, p.b)] = side_by_side(prints[files[p.a]], prints[files[p.b]], own[p.a], own[p.b])
    return result


def side_by_side(left: Document, right: Document, own_left: set[int], own_right: set[int]) -> SideBySide:
    """Both files as HTML with copydetect's matching slices marked (own fingerprints only)."""
    from copydetect import compare_files

    marks: tuple[list, list] = ([], [])
    for offset_a, a in left.parts:
        for offset_b, b in right.parts:
            # compare_files matches on .hashes: give it each file's own fingerprints, not the boilerplate's.
            a2, b2 = copy.copy(a), copy.copy(b)
            a2.hashes, b2.hashes = a.hashes & own_left, b.hashes & own_right
            _, _, (slices_a, slices_b) = compare_files(a2, b2)
            for side, offset, slices in ((0, offset_a, slices_a), (1, offset_b, slices_b)):
                if slices.size:
                    marks[side].extend((offset + int(x), offset + int(y)) for x, y in zip(*slices))
    return SideBySide(marked(left.text, marks[0]), marked(right.text, marks[1]))


def marked(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` as HTML with the (merged) spans in <mark>."""
    from markupsafe import escape

    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    html, at = [], 0
    for start, end in merged:
        html += [str(escape(text[at:start])), "<mark>", str(escape(text[start:end])), "</mark>"]
        at = end
    html.append(str(escape(text[at:])))
    return "".join(html)
