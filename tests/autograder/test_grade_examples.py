"""The sample class in examples/submissions/ (used by `make demo`) is up to date and covers every kind of entry."""
from pathlib import Path

from autograder.course import demo
from autograder.grading.submissions import find_entries

ROOT = Path(__file__).resolve().parents[2]


def test_sample_class_matches_solutions_and_mistake_corpus():
    expected = demo.example_files()
    committed = {p.relative_to(demo.EXAMPLES).as_posix(): p.read_bytes()
                 for p in demo.EXAMPLES.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    stale = sorted(k for k in expected if committed.get(k) != expected[k])
    extra = sorted(set(committed) - set(expected))
    assert not stale and not extra, (
        f"examples/submissions/ is out of date (stale: {stale}, extra: {extra}); run `dlgrade demo --rebuild-examples`")


def test_sample_class_has_every_kind_of_entry():
    entries = find_entries(demo.EXAMPLES)
    kinds = {e.kind for e in entries.values()}
    assert kinds == {"folder", "zip", "notebook"}
    assert all(e.problem() == "" for e in entries.values()), "the demo class should grade without refusals"
    perfect = {p.name for p in (demo.EXAMPLES / "ada-perfect").iterdir()}
    assert perfect >= {f"{e}.py" for e in demo.NUMPY_EXERCISES}


def test_each_classic_mistake_is_one_change_from_the_solution():
    for student, (exercise, mutant_id) in demo.CLASSIC_MISTAKES.items():
        old, new = demo.mutant(exercise, mutant_id)
        text = (demo.EXAMPLES / student / f"{exercise}.py").read_text()
        assert text != demo.solution(exercise)
        assert text == demo.solution(exercise).replace(old, new)


def test_rebuild_writes_the_same_files(tmp_path):
    demo.rebuild_examples(tmp_path / "subs")
    written = {p.relative_to(tmp_path / "subs").as_posix(): p.read_bytes()
               for p in (tmp_path / "subs").rglob("*") if p.is_file()}
    assert written == demo.example_files()
