"""tuning's tune_mlp is graded against the student's own optim.train_mlp: a wrong, random or missing one.

- a wrong train_mlp (it learns badly) or one that is not reproducible costs tune_mlp nothing;
- a missing optim.py or an unimplemented train_mlp fails only the tune_mlp tests, with a message naming it;
- tuning's view (what its worker sees, and the key its results are reused under) holds optim.py.
"""
import shutil
from pathlib import Path

import pytest

from autograder.grading import reuse
from autograder.grading.runner import run_suites

ROOT = Path(__file__).resolve().parents[2]
TUNE_TESTS = {"test_tune_mlp_scores", "test_tune_mlp_mean_and_std", "test_tune_mlp_chooses_the_best_mean"}


def grade(folder: Path, optim_source: str | None) -> dict[str, dict]:
    shutil.copy(ROOT / "solutions" / "tuning.py", folder / "tuning.py")
    if optim_source is not None:
        (folder / "optim.py").write_text(optim_source)
    data = run_suites(folder, ["tuning"], hidden=True)
    return {t["extra_data"]["test_id"].split("::", 1)[1]: t for t in data["tests"]}


def tune_results(results: dict[str, dict]) -> dict[str, dict]:
    found = {k: t for k, t in results.items() if k.split("::")[1] in TUNE_TESTS}
    assert len(found) == 6, sorted(results)
    return found


OPTIM = (ROOT / "solutions" / "optim.py").read_text()
VARIANTS = {
    # The loss gradient's sign flipped: train_mlp runs with every optimizer, and learns the wrong way.
    "uphill": OPTIM.replace("dz = (np.exp(log_probs) - y) / x.shape[0]", "dz = (y - np.exp(log_probs)) / x.shape[0]"),
    # Adam's step count from 0: nan weights after the first step.
    "nan-weights": OPTIM.replace("second[key], step, lr=lr", "second[key], step - 1, lr=lr"),
    # Mini-batches from the global generator: train_mlp differs from call to call.
    "not-reproducible": OPTIM.replace("order = np.random.default_rng(seed).permutation(n)",
                                      "order = np.random.permutation(n)"),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_a_wrong_train_mlp_costs_tune_mlp_nothing(tmp_path, name):
    source = VARIANTS[name]
    assert source != OPTIM
    results = grade(tmp_path, source)
    failed = {k: t["output"] for k, t in results.items() if t["status"] != "passed"}
    assert not failed, failed


@pytest.mark.parametrize("optim, says", [(None, "No module named 'optim'"),
                                         ((ROOT / "exercises" / "optim.py").read_text(), "train_mlp, which it calls, "
                                                                                        "is not implemented yet")],
                         ids=["missing", "stub"])
def test_without_a_working_train_mlp_only_tune_mlp_fails(tmp_path, optim, says):
    results = grade(tmp_path, optim)
    tune = tune_results(results)
    assert all(t["status"] == "failed" for t in tune.values()), {k: t["status"] for k, t in tune.items()}
    # Hidden tests show no details; the public ones say why.
    assert all(says in t["output"] for k, t in tune.items() if k.startswith("public::")), \
        {k: t["output"] for k, t in tune.items()}
    others = {k: t["status"] for k, t in results.items() if k not in tune}
    assert others and all(s == "passed" for s in others.values()), others


def test_tunings_view_holds_optim():
    files = {"tuning.py": (ROOT / "exercises" / "tuning.py").read_bytes(), "optim.py": b"def train_mlp(): pass\n",
             "conv.py": b"x = 1\n", "notes.txt": b"hello"}
    assert set(reuse.view(files, "tuning")) == {"tuning.py", "optim.py", "notes.txt"}
    other = {**files, "optim.py": b"def train_mlp(): return 1\n"}
    assert reuse.keys(files, ["tuning"], {})["tuning"] != reuse.keys(other, ["tuning"], {})["tuning"]
    # optim's own view does not depend on tuning.py.
    assert set(reuse.view(files, "optim")) == {"optim.py", "notes.txt"}
