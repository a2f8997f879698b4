"""`dlgrade gradescope`: the bundle, and run_autograder in a recreated Gradescope layout.

One bundle is built, unpacked into a stand-in for /autograder (a world-traversable temp folder, as
/autograder is), installed by its own setup.sh (offline: a venv of the system Python that sees this
project's venv through a .pth file), then run_autograder grades several submissions there. Every
results.json is checked against a JSON Schema of Gradescope's format.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder.gradescope import run as gr
from autograder.cli import main as cli_main
from autograder.course.config import Gradescope, parse
from autograder.grading.late import Late

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions"
MUTANTS = Path(__file__).resolve().parent / "mutants"
VENV_SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
# The venv student code runs with must be usable by an unprivileged uid: pyenv's Python under
# /root is not, Debian's is (as Ubuntu's is on Gradescope).
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
BASE_PYTHON = str(SYSTEM_PYTHON) if SYSTEM_PYTHON.exists() else sys._base_executable
NUMPY = ["activations", "perceptron", "losses", "backprop", "optim", "regularization", "conv", "augment", "tuning"]
STAFF = "please contact the course staff"
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="Gradescope runs the autograder as root; the uid drop needs root")

VISIBILITY = {"enum": ["visible", "hidden", "after_due_date", "after_published"]}
FORMAT = {"enum": ["text", "html", "simple_format", "md", "ansi"]}
NUMBER = {"type": "number"}
TEST_SCHEMA = {
    "type": "object",
    "required": ["name", "score", "max_score", "status", "output", "visibility"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1}, "name_format": FORMAT, "number": {"type": "string"},
        "score": NUMBER, "max_score": {"type": "number", "minimum": 0}, "status": {"enum": ["passed", "failed"]},
        "output": {"type": "string"}, "output_format": FORMAT, "tags": {"type": "array", "items": {"type": "string"}},
        "visibility": VISIBILITY, "extra_data": {"type": "object"},
    },
}
# Gradescope's results.json; stricter than Gradescope in one way: the top-level score is required.
RESULTS_SCHEMA = {
    "type": "object",
    "required": ["score", "execution_time", "output", "visibility", "stdout_visibility", "tests"],
    "additionalProperties": False,
    "properties": {
        "score": NUMBER, "execution_time": {"type": "number", "minimum": 0}, "output": {"type": "string"},
        "output_format": FORMAT, "test_output_format": FORMAT, "test_name_format": FORMAT,
        "visibility": VISIBILITY, "stdout_visibility": VISIBILITY, "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": TEST_SCHEMA}, "leaderboard": {"type": "array"},
    },
}


def schema_errors(data, schema=RESULTS_SCHEMA, where="$") -> list[str]:
    """jsonschema's errors when it is installed (a Jupyter dependency), else this subset's."""
    try:
        import jsonschema
    except ImportError:
        pass
    else:
        return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    types = {"object": dict, "array": list, "string": str, "number": (int, float)}
    if "type" in schema and (not isinstance(data, types[schema["type"]]) or isinstance(data, bool)):
        return [f"{where}: expected {schema['type']}"]
    errors = []
    if "enum" in schema and data not in schema["enum"]:
        errors.append(f"{where}: {data!r} not in {schema['enum']}")
    if "minimum" in schema and data < schema["minimum"]:
        errors.append(f"{where}: {data} < {schema['minimum']}")
    if "minLength" in schema and len(data) < schema["minLength"]:
        errors.append(f"{where}: too short")
    if isinstance(data, dict):
        errors += [f"{where}: missing {k}" for k in schema.get("required", []) if k not in data]
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            errors += [f"{where}: unexpected {k}" for k in data if k not in props]
        for k, v in data.items():
            if k in props:
                errors += schema_errors(v, props[k], f"{where}.{k}")
    if isinstance(data, list) and "items" in schema:
        for i, v in enumerate(data):
            errors += schema_errors(v, schema["items"], f"{where}[{i}]")
    return errors


def test_the_schema_rejects_what_gradescope_would():
    good = {"score": 1, "execution_time": 0.5, "output": "", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [{"name": "t", "score": 1, "max_score": 1, "status": "passed", "output": "", "visibility": "visible"}]}
    assert schema_errors(good) == []
    for broken in ({**good, "visibility": "sometimes"}, {k: v for k, v in good.items() if k != "score"},
                   {**good, "tests": [{**good["tests"][0], "status": "ok"}]},
                   {**good, "tests": [{k: v for k, v in good["tests"][0].items() if k != "name"}]}):
        assert schema_errors(broken), broken


# --- the bundle ------------------------------------------------------------------------------

def build(out: Path, *extra: str) -> int:
    return cli_main(["gradescope", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    assert build(out) == 0
    return out


def test_bundle_holds_the_grader_and_nothing_of_the_answers(bundle):
    with zipfile.ZipFile(bundle) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        env = zf.read("gradescope.env").decode()
    names = set(infos)
    for required in ("setup.sh", "run_autograder", "pyproject.toml", "README.md", "course.toml",
                     "autograder/gradescope/run.py", "autograder/inside/worker.py", "dlref/conv.py",
                     "autograder/suites/pytest.ini", "autograder/suites/hidden/test_conv.py",
                     "autograder/suites/public/test_conv.py"):
        assert required in names, required
    assert any(n.startswith("autograder/suites/public/data/") and n.endswith(".json") for n in names)
    assert any(n.startswith("autograder/mistakes/") for n in names)
    tops = {n.split("/")[0] for n in names}
    assert tops == {"setup.sh", "run_autograder", "gradescope.env", "pyproject.toml", "README.md", "course.toml",
                    "autograder", "dlref"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/." in "/" + n]
    for script in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(infos[script].external_attr >> 16) == 0o755
    assert stat.S_IMODE(infos["course.toml"].external_attr >> 16) == 0o644
    assert 'DLGRADE_EXTRAS=""' in env and f'DLGRADE_EXERCISES="{",".join(NUMPY)}"' in env


def test_bundle_is_deterministic_and_follows_its_options(bundle, tmp_path):
    again = tmp_path / "again.zip"
    assert build(again) == 0
    assert again.read_bytes() == bundle.read_bytes()
    cnn = tmp_path / "cnn.zip"
    assert build(cnn, "--with-cnn", "--skip", "conv") == 0
    with zipfile.ZipFile(cnn) as zf:
        env = zf.read("gradescope.env").decode()
    assert 'DLGRADE_EXTRAS="tf"' in env
    # with_cnn grades every Keras exercise: the CNN and transfer learning
    assert f'DLGRADE_EXERCISES="{",".join([e for e in NUMPY if e != "conv"] + ["cnn", "transfer"])}"' in env


@pytest.mark.parametrize("out, course, message", [
    ("autograder.tar", None, "must be a .zip"),
    ("missing/autograder.zip", None, "does not exist; create it first"),
    ("autograder.zip", '[gradescope]\nsandbox = "chroot"\n', "[gradescope].sandbox"),
    ("autograder.zip", '[gradescope]\nwith_cnn = "yes"\n', "[gradescope].with_cnn"),
])
def test_bundle_refuses_bad_usage(tmp_path, capsys, out, course, message):
    args = []
    if course is not None:
        (tmp_path / "course.toml").write_text(course)
        args = ["--course", str(tmp_path / "course.toml")]
    assert build(tmp_path / out, *args) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.zip"))


def test_scripts_are_valid_bash():
    for script in ("setup.sh", "run_autograder"):
        done = subprocess.run(["bash", "-n", str(ROOT / "autograder" / "gradescope" / "files" / script)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_config_keys_are_described_and_checked():
    from dataclasses import fields

    assert all(f.metadata.get("description") for f in fields(Gradescope))
    assert parse({"gradescope": {"hidden_visibility": "hidden", "with_cnn": True}}).gradescope.with_cnn is True
    with pytest.raises(ValueError, match=r"\[gradescope\]: unknown key\(s\) visiblity"):
        parse({"gradescope": {"visiblity": "visible"}})


# --- a recreated Gradescope layout --------------------------------------------------------------

class SimulatedGradescope:
    """/autograder stand-in with the bundle installed by its setup.sh."""

    def __init__(self, bundle: Path):
        self.root = Path(tempfile.mkdtemp(prefix="dlgrade-gradescope-test-"))
        self.root.chmod(0o755)  # as /autograder: reachable by the uid student code runs as
        self.source = self.root / "source"
        with zipfile.ZipFile(bundle) as zf:
            zf.extractall(self.source)
        for script in ("setup.sh", "run_autograder"):
            (self.source / script).chmod(0o755)  # zipfile does not restore modes; Gradescope's unzip does
        shutil.copy2(self.source / "run_autograder", self.root / "run_autograder")
        venv = self.root / "venv"
        subprocess.run([BASE_PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = next((venv / "lib").glob("python*/site-packages"))
        (site / "dlgrade-test-deps.pth").write_text(f"{VENV_SITE}\n")  # numpy, pytest, pip: no network
        env = {**os.environ, "DLGRADE_SKIP_APT": "1", "DLGRADE_OFFLINE": "1", "DLGRADE_VENV": str(venv)}
        self.setup = subprocess.run(["bash", str(self.source / "setup.sh")], env=env, capture_output=True,
                                    text=True, timeout=300, cwd="/")

    def run(self, files: dict[str, bytes | str] | None = None, metadata: dict | None = None,
            python: str | None = None) -> tuple[int, dict, str]:
        """Grade one submission with run_autograder; (exit status, results.json, stdout+stderr)."""
        sub, results = self.root / "submission", self.root / "results"
        shutil.rmtree(sub, ignore_errors=True)
        shutil.rmtree(results, ignore_errors=True)
        sub.mkdir()
        sub.chmod(0o755)
        # Open to everyone before each run: only run_autograder's lock-down (and the uid drop) protect them.
        results.mkdir()
        results.chmod(0o777)
        self.source.chmod(0o755)
        for name, content in (files or {}).items():
            (sub / name).write_bytes(content.encode() if isinstance(content, str) else content)
        meta = self.root / "submission_metadata.json"
        meta.write_text(json.dumps(metadata or {"created_at": "2026-11-20T10:00:00-08:00",
                                                "assignment": {"due_date": "2026-11-30T23:59:00-08:00"},
                                                "users": [{"name": "Ana Test", "email": "ana@example.edu"}]}))
        meta.chmod(0o644)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DLGRADE_")}
        env["DLGRADE_GRADESCOPE_ROOT"] = str(self.root)
        if python:
            env["DLGRADE_PYTHON"] = python
        done = subprocess.run(["bash", str(self.root / "run_autograder")], env=env, cwd=self.root,
                              capture_output=True, text=True, timeout=600)
        data = json.loads((results / "results.json").read_text())
        return done.returncode, data, done.stdout + done.stderr

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def gradescope(bundle):
    layout = SimulatedGradescope(bundle)
    assert layout.setup.returncode == 0, layout.setup.stdout + layout.setup.stderr
    yield layout
    layout.close()


def exercise_scores(data: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in data["tests"]:
        out[t["tags"][0]] = out.get(t["tags"][0], 0.0) + t["score"]
    return out


def assert_gradescope_valid(data: dict) -> None:
    assert schema_errors(data) == []
    for t in data["tests"]:
        if t["tags"][1] == "hidden":
            assert t["visibility"] == "after_due_date" and t["output"] == ""
            assert not {"details", "hint", "data"} & set(t.get("extra_data", {})), t
        else:
            assert t["visibility"] == "visible"
    assert data["stdout_visibility"] == "hidden"


def test_setup_sh_installs_the_grader_into_its_venv(gradescope):
    assert "gradescope_run --check: grading activations" in gradescope.setup.stdout
    site = next((gradescope.root / "venv" / "lib").glob("python*/site-packages"))
    assert list(site.glob("dlgrade-*.dist-info")), "pip did not install the package"
    # Editable: no copy of the grader inside the venv that student code runs with.
    assert not (site / "autograder").exists() and not (site / "dlref").exists()


def test_solution_submission_gets_full_marks_on_what_it_submits(gradescope):
    rc, data, log = gradescope.run({"activations.py": (SOLUTIONS / "activations.py").read_text(),
                                    "losses.py": (SOLUTIONS / "losses.py").read_text()})
    assert rc == 0, log
    assert_gradescope_valid(data)
    scores = exercise_scores(data)
    maxima = {t["tags"][0]: 0.0 for t in data["tests"]}
    for t in data["tests"]:
        maxima[t["tags"][0]] += t["max_score"]
    assert set(scores) == set(NUMPY)
    assert scores["activations"] == pytest.approx(maxima["activations"]) == pytest.approx(10.0)
    assert scores["losses"] == pytest.approx(maxima["losses"]) == pytest.approx(10.0)
    assert all(scores[e] == 0 for e in NUMPY if e not in ("activations", "losses"))
    assert data["score"] == pytest.approx(20.0)
    assert "conv: conv.py was not submitted" in data["output"]
    assert "are shown after the due date" in data["output"]
    assert data["extra_data"]["student"] == "Ana Test" and data["extra_data"]["sandbox"] in ("bwrap", "none")
    assert all(t["status"] == "passed" for t in data["tests"] if t["tags"][0] in ("activations", "losses"))
    assert stat.S_IMODE((gradescope.root / "source").stat().st_mode) == 0o700
    assert stat.S_IMODE((gradescope.root / "results").stat().st_mode) == 0o700
    assert stat.S_IMODE((gradescope.root / "submission_metadata.json").stat().st_mode) == 0o600


def mutant(exercise: str, mutant_id: str) -> tuple[str, str]:
    namespace: dict = {}
    exec((MUTANTS / f"{exercise}.py").read_text(), namespace)
    old, new, hint = next((o, n, h) for i, o, n, h in namespace["MUTANTS"] if i == mutant_id)
    source = (SOLUTIONS / f"{exercise}.py").read_text()
    assert source.count(old) == 1
    return source.replace(old, new), hint


def test_a_classic_mistake_uploaded_as_a_zip_loses_points_with_its_hint(gradescope):
    source, hint = mutant("activations", "softmax-no-shift")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hw/activations.py", source)
    rc, data, log = gradescope.run({"homework.zip": buf.getvalue()})
    assert rc == 0, log
    assert_gradescope_valid(data)
    assert data["extra_data"]["submission"]["kind"] == "zip"
    assert 0 < exercise_scores(data)["activations"] < 10.0
    failed = [t for t in data["tests"] if t["status"] == "failed" and t["tags"][0] == "activations"]
    assert any(hint in t["output"] for t in failed if t["tags"][1] == "public")
    assert not any(hint in t["output"] or hint in json.dumps(t.get("extra_data")) for t in failed
                   if t["tags"][1] == "hidden")


def test_syntax_error_and_empty_submissions_still_get_valid_results(gradescope):
    rc, data, log = gradescope.run({"activations.py": "def sigmoid(z:\n    return z\n"})
    assert rc == 0, log
    assert_gradescope_valid(data)
    assert data["score"] == 0 and len(data["tests"]) > 100
    outputs = [t["output"] for t in data["tests"] if t["tags"][:2] == ["activations", "public"]]
    assert outputs and all("could not be imported: SyntaxError" in o for o in outputs)

    rc, data, log = gradescope.run({})
    assert rc == 0, log
    assert_gradescope_valid(data)
    assert data["score"] == 0 and "no exercise files found in the submission" in data["output"]


def test_grader_that_cannot_start_still_leaves_a_failure_result(gradescope):
    rc, data, log = gradescope.run({"activations.py": "x = 1\n"}, python=str(gradescope.root / "no-such-python"))
    assert rc != 0
    assert schema_errors(data) == []
    assert data["score"] == 0 and data["tests"] == [] and STAFF in data["output"]
    assert "wrote no results" in log


# --- no root for student code without bwrap --------------------------------------------------------

ESCAPE = '''\
import os

ROOT = {root!r}
ATTEMPTS = {{
    "read the metadata": lambda: open(os.path.join(ROOT, "submission_metadata.json")).read(),
    "read a hidden suite": lambda: open(os.path.join(ROOT, "source/autograder/suites/hidden/test_activations.py")).read(),
    "read a root-only file": lambda: open({secret!r}).read(),
    "overwrite results.json": lambda: open(os.path.join(ROOT, "results/results.json"), "a").write("{{}}"),
    "write into results/": lambda: open(os.path.join(ROOT, "results/forged.json"), "w").write("{{}}"),
}}
ESCAPED = []
for what, attempt in ATTEMPTS.items():
    try:
        attempt()
    except PermissionError:
        continue
    ESCAPED.append(what)
if ESCAPED:  # the exercise then scores 0
    raise RuntimeError("got through: " + ", ".join(ESCAPED))

'''


@as_root
def test_unsandboxed_student_code_runs_unprivileged(bundle, tmp_path):
    """sandbox = "none" (what `auto` falls back to where bwrap cannot run): student code gets PermissionError."""
    course = (ROOT / "course.toml").read_text().replace('sandbox = "auto"', 'sandbox = "none"')
    assert 'sandbox = "none"' in course
    (tmp_path / "course.toml").write_text(course)
    none_bundle = tmp_path / "none.zip"
    assert build(none_bundle, "--course", str(tmp_path / "course.toml"), "--only", "activations") == 0
    layout = SimulatedGradescope(none_bundle)
    try:
        assert layout.setup.returncode == 0, layout.setup.stderr
        assert "student code would run as an unprivileged uid" in layout.setup.stdout
        secret = layout.root / "secret.txt"
        secret.write_text("the answers")
        secret.chmod(0o600)
        escape = ESCAPE.format(root=str(layout.root), secret=str(secret))
        rc, data, log = layout.run({"activations.py": (SOLUTIONS / "activations.py").read_text() + "\n" + escape})
        assert rc == 0, log
        assert_gradescope_valid(data)
        assert data["extra_data"]["sandbox"] == "none" and data["extra_data"]["sandboxed"] is False
        assert "student code runs as an unprivileged uid" in log
        assert data["score"] == pytest.approx(10.0), [t["output"] for t in data["tests"] if t["status"] == "failed"][:2]
        assert not (layout.root / "results" / "forged.json").exists()
        assert secret.read_text() == "the answers"
    finally:
        layout.close()


@as_root
def test_worker_refuses_root_when_the_drop_is_required_but_impossible(tmp_path, monkeypatch):
    from autograder.sandbox import client as sandbox

    (tmp_path / "m.py").write_text("import os\n\ndef uid():\n    return os.getuid()\n")
    monkeypatch.setattr(sandbox, "drop_problem", lambda *a: "a Python only root can read")
    with sandbox.Worker(tmp_path, sandbox="none") as w:
        assert w.call("m", "uid").value == 0  # a developer's machine: runs as before
    monkeypatch.setenv(sandbox.ENV_REQUIRE_DROP, "1")
    with sandbox.Worker(tmp_path, sandbox="none") as w:
        r = w.call("m", "uid")
    assert not r.ok and "refused to run student code as root: a Python only root can read" in r.message


# --- gradescope_run's decisions, in process ----------------------------------------------------------

def test_sandbox_choice(monkeypatch):
    from autograder.sandbox import client as sandbox

    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: None)
    monkeypatch.setattr(sandbox, "drop_problem", lambda *a: None)
    assert gr.choose_sandbox("auto", NUMPY)[0] == "bwrap"
    assert gr.choose_sandbox("none", NUMPY)[0] == "none"
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bwrap: setting up uid map: Permission denied")
    mode, how = gr.choose_sandbox("auto", NUMPY)
    assert mode == "none" and "Permission denied" in how
    with pytest.raises(gr.GraderBroken, match="asks for sandbox = \"bwrap\""):
        gr.choose_sandbox("bwrap", NUMPY)
    with pytest.raises(gr.GraderBroken, match=r"Keras exercises \(cnn, transfer\) are graded only in bubblewrap"):
        gr.choose_sandbox("auto", NUMPY + ["cnn"])
    if os.geteuid() == 0:
        monkeypatch.setattr(sandbox, "drop_problem", lambda *a: "numpy is not readable")
        with pytest.raises(gr.GraderBroken, match="cannot run as an unprivileged uid: numpy is not readable"):
            gr.choose_sandbox("auto", NUMPY)


def test_internal_failures_write_a_staff_result(tmp_path, monkeypatch, capsys):
    (tmp_path / "submission").mkdir()
    bad = tmp_path / "course.toml"
    bad.write_text("[gradescope]\nsandbox = 1\n")
    assert gr.main(["--root", str(tmp_path), "--course", str(bad)]) == 1
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert schema_errors(data) == []
    assert data["score"] == 0 and STAFF in data["output"] and "[gradescope].sandbox" in data["output"]

    def explode(*args):
        raise ZeroDivisionError("a grader bug")

    monkeypatch.setattr(gr, "chosen_exercises", explode)
    assert gr.main(["--root", str(tmp_path)]) == 1
    data = json.loads((tmp_path / "results" / "results.json").read_text())
    assert schema_errors(data) == [] and "ZeroDivisionError: a grader bug" in data["output"] and STAFF in data["output"]
    assert "Traceback" in capsys.readouterr().err


def test_late_penalty_from_the_submission_metadata():
    course = parse({"grading": {"late_policy": "per_day", "late_percent_per_day": 10.0}})
    meta = {"created_at": "2026-12-03T10:00:00+00:00", "assignment": {"due_date": "2026-12-01T12:00:00+00:00"}}
    late, info, note = gr.late_of(meta, course)
    assert (late.days_late, late.fraction, note) == (2, pytest.approx(0.2), "")
    assert info["due_date"] == "2026-12-01T12:00:00+00:00"
    extended = {**meta, "users": [{"name": "A", "assignment": {"due_date": "2026-12-05T12:00:00+00:00"}}]}
    assert gr.late_of(extended, course)[0].fraction == 0
    assert gr.late_of({"created_at": "yesterday"}, course)[2].startswith("the submission or due date could not be read")
    assert gr.late_of({}, course)[0] == Late()

    tests = [{"name": "a", "score": 2.0, "max_score": 2.0, "status": "passed", "output": "", "visibility": "visible",
              "tags": ["activations", "public"], "extra_data": {"details": "", "hint": ""}},
             {"name": "b", "score": 0.0, "max_score": 8.0, "status": "failed", "output": "", "visibility": "visible",
              "tags": ["activations", "hidden"], "extra_data": {"details": "expected 1 got 2", "hint": "h", "data": {}}}]
    settings = Gradescope(hidden_visibility="hidden", public_visibility="after_published")
    data = gr.results_json({"tests": tests, "extra_data": {}}, settings=settings, exercises=["activations"],
                           folder=None, late=late, late_info=info, notes=[])
    assert schema_errors(data) == []
    assert data["score"] == pytest.approx(1.6) and data["extra_data"]["raw_score"] == 2.0
    assert "removes 20% of the score (0.40 points)" in data["output"]
    assert [t["visibility"] for t in data["tests"]] == ["after_published", "hidden"]
    assert "expected 1 got 2" not in json.dumps(data) and "are not shown" in data["output"]


def test_what_counts_as_the_uploaded_entry(tmp_path):
    def entry(*names):
        folder = tmp_path / "_".join(names or ("empty",))
        folder.mkdir()
        for n in names:
            (folder / n).write_text("{}")
        return gr.submission_entry(folder)

    assert entry("hw.zip").kind == "zip"
    assert entry("my_lab.ipynb").kind == "notebook"  # a lone notebook is the CNN lab, as in `dlgrade grade`
    assert entry("conv.ipynb").kind == "folder"  # an exercise's notebook: converted in the folder
    assert entry("a.zip", "conv.py").kind == "folder"
    assert entry().kind == "folder"
    with pytest.raises(gr.GraderBroken, match="no submission folder"):
        gr.submission_entry(tmp_path / "absent")
