"""Per-exercise views, their keys and the store that lets identical files be graded once."""
import json
import shutil
from pathlib import Path

import pytest

from autograder.grading import reuse
from autograder.grading.runner import run_suites

ROOT = Path(__file__).resolve().parents[2]
SALT = {"grader": "1.0", "course": "c0", "options": {}, "sandbox": "bwrap"}
FILES = {
    "activations.py": b"def relu(z): ...",
    "backprop.py": b"from activations import relu\n",
    "losses.py": b"import helpers\n",
    "conv.py": b"# nothing shared\n",
    "helpers.py": b"X = 1\n",
    "data/w.npy": b"\x93NUMPY",
    "cnn.py": b"import keras\n",
}


def test_view_holds_the_exercise_its_named_exercises_and_every_other_file():
    assert set(reuse.view(FILES, "backprop")) == {"backprop.py", "activations.py", "helpers.py", "data/w.npy"}
    assert set(reuse.view(FILES, "conv")) == {"conv.py", "helpers.py", "data/w.npy"}
    assert set(reuse.view(FILES, "optim")) == {"helpers.py", "data/w.npy"}  # not submitted


def test_named_exercises_are_followed_transitively():
    files = {"backprop.py": b"import activations", "activations.py": b"from losses import mse", "losses.py": b""}
    assert set(reuse.view(files, "backprop")) == {"backprop.py", "activations.py", "losses.py"}


def test_code_names_count_and_prose_does_not():
    named = reuse.named_modules
    assert named(b"import activations\nfrom losses import mse\n") == {"activations", "losses"}
    assert named(b"import importlib\nm = importlib.import_module('conv')\nopen('data/optim.py')\n") == {"conv", "optim"}
    assert named(b'"""Stable sigmoid, as in activations.py."""\n# your code from losses.py will do\n') == set()
    # Not Python at all: every mention counts, as nothing can be told apart.
    assert named(b"def f(:\n    # activations\n") == {"activations"}


def test_keys_change_only_with_what_the_exercise_can_see():
    base = reuse.keys(FILES, ["activations", "backprop", "conv", "cnn"], SALT)
    assert "cnn" not in base, "the CNN is trained under a wall-clock budget: never reused"
    other = dict(FILES, **{"conv.py": b"# changed\n"})
    changed = reuse.keys(other, ["activations", "backprop", "conv"], SALT)
    assert changed["activations"] == base["activations"] and changed["backprop"] == base["backprop"]
    assert changed["conv"] != base["conv"]
    helper = reuse.keys(dict(FILES, **{"helpers.py": b"X = 2\n"}), ["activations"], SALT)
    assert helper["activations"] != base["activations"]
    for field, value in (("grader", "1.1"), ("course", "c1"), ("options", {"cnn_budget": 5}), ("sandbox", "none")):
        assert reuse.keys(FILES, ["activations"], {**SALT, field: value})["activations"] != base["activations"]


def test_a_link_and_a_file_with_the_same_text_differ():
    assert reuse.view_hash({"a.py": b"x"}) != reuse.view_hash({"a.py": "x"})


def passed(name: str = "t") -> dict:
    return {"name": name, "status": "passed", "tags": ["activations", "public"],
            "extra_data": {"grader_error": False, "kind": ""}}


def failed(kind: str = "", grader_error: bool = False) -> dict:
    return {"name": "t", "status": "failed", "tags": ["activations", "public"],
            "extra_data": {"grader_error": grader_error, "kind": kind}}


def test_store_round_trip(tmp_path):
    store = reuse.Store(tmp_path)
    assert store.get("activations", "k1") is None
    assert store.put("activations", "k1", [passed("a"), failed("exception")])
    assert store.get("activations", "k1") == [passed("a"), failed("exception")]
    assert store.get("losses", "k1") is None
    assert [len(p.read_text().splitlines()) for p in tmp_path.rglob("*.json")] == [1], "compact: read by the grader only"


@pytest.mark.parametrize("test", [failed("timeout"), failed("slow"), failed(grader_error=True)])
def test_results_that_depend_on_the_machine_or_a_grader_bug_are_not_stored(tmp_path, test):
    store = reuse.Store(tmp_path)
    assert not store.put("activations", "k1", [passed(), test])
    assert store.get("activations", "k1") is None
    assert not store.put("activations", "k2", [])


def test_a_cpu_time_limit_depends_on_the_code_and_is_stored(tmp_path):
    store = reuse.Store(tmp_path)
    assert store.put("activations", "k1", [passed(), failed("cpu_time")])
    assert store.get("activations", "k1") == [passed(), failed("cpu_time")]


def test_a_damaged_or_mislabelled_entry_is_ignored(tmp_path):
    store = reuse.Store(tmp_path)
    store.put("activations", "k1", [passed()])
    path = tmp_path / "activations" / "k1.json"
    path.write_text("{not json")
    assert store.get("activations", "k1") is None
    path.write_text(json.dumps({"key": "k2", "tests": [passed()]}))
    assert store.get("activations", "k1") is None


def test_a_full_disk_only_turns_reuse_off(tmp_path):
    (tmp_path / "activations").write_text("a file where the folder should be")
    assert not reuse.Store(tmp_path).put("activations", "k1", [passed()])


# Reaches losses.py under a name no scan can see: allowed when the whole submission is one
# worker's, impossible in an isolated view (so a reused result never depended on it).
SNEAKY = "import importlib\n_other = importlib.import_module('lo' + 'sses')\n"


def test_isolated_exercises_see_only_their_view(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "activations.py").write_text(SNEAKY + (ROOT / "solutions" / "activations.py").read_text())
    shutil.copy(ROOT / "solutions" / "losses.py", sub / "losses.py")
    course = tmp_path / "course.toml"
    course.write_text("[grading]\nmax_examples = 3\n")
    shared = run_suites(sub, ["activations"], hidden=False, course=course)
    isolated = run_suites(sub, ["activations"], hidden=False, course=course, env={"DLGRADE_ISOLATE": "1"})
    assert shared["tests"] and all(t["status"] == "passed" for t in shared["tests"])
    assert isolated["tests"] and all(t["status"] == "failed" for t in isolated["tests"])
    assert "losses" in isolated["tests"][0]["output"]


def test_an_exercise_whose_tests_come_round_again_gets_the_same_view(tmp_path):
    from autograder.course.config import load
    from autograder.suites.plugin import _Workers

    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "solutions" / "activations.py", sub / "activations.py")
    (sub / "helper.py").write_text("X = 1\n")
    (tmp_path / "views").mkdir()
    workers = _Workers(sub, load(None), "none", "1", tmp_path / "views")
    first = workers.folder_for("activations")
    assert workers.folder_for("activations") == first  # e.g. public, hidden, then public tests again
    assert sorted(p.name for p in first.iterdir()) == ["activations.py", "helper.py"]


def test_rounds_of_views_grade_each_view_as_alone(tmp_path):
    """One session grading three students' views in rounds gives each the results it gets alone."""
    from autograder.grading.reuse import ROUND_EXERCISES

    course = tmp_path / "course.toml"
    course.write_text("[grading]\nmax_examples = 5\n")
    good = (ROOT / "solutions" / "activations.py").read_text()
    wrong = good.replace("return e / np.sum(e, axis=axis, keepdims=True)", "return e / np.sum(e)")
    assert wrong != good
    views = {0: {"activations": good, "losses": (ROOT / "solutions" / "losses.py").read_text()},
             1: {"activations": wrong, "losses": None},  # losses.py not submitted: an empty view
             2: {"activations": good}}
    bundle = tmp_path / "bundle"
    alone = []
    for k, files in views.items():
        single = tmp_path / f"alone{k}"
        for e, text in files.items():
            for root in (bundle / str(k), single):
                (root / e).mkdir(parents=True)
                if text is not None:
                    (root / e / f"{e}.py").write_text(text)
        (bundle / str(k) / ROUND_EXERCISES).write_text("\n".join(files) + "\n")
        alone.append(run_suites(single, list(files), hidden=True, course=course, env={"DLGRADE_ISOLATE": "views"}))
    together = run_suites(bundle, ["activations", "losses"], hidden=True, course=course,
                          env={"DLGRADE_ISOLATE": "views"})
    assert len(together["rounds"]) == len(together["tests"])
    for k, result in enumerate(alone):
        mine = [t for r, t in zip(together["rounds"], together["tests"]) if r == k]
        assert mine == result["tests"], f"round {k}"
    assert any(t["status"] == "failed" for t in alone[1]["tests"])
    assert all("not submitted" in t["extra_data"]["details"] for t in alone[1]["tests"] if t["tags"][0] == "losses")
