"""Submission entries for bulk grading: ids, duplicates, safe zip extraction, notebooks, content hashes."""
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from autograder.grading import submissions
from autograder.grading.submissions import BadSubmission, content_hash, extract_zip, find_entries, pack, prepare, unpack

ROOT = Path(__file__).resolve().parents[2]


def make_zip(path: Path, members: dict, *, mode: dict | None = None) -> Path:
    """members: name -> bytes; mode: name -> Unix mode recorded in the archive."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode and name in mode:
                info.external_attr = mode[name] << 16
            zf.writestr(info, data)
    return path


def test_entries_are_named_by_stem_hidden_and_junk_ignored(tmp_path):
    (tmp_path / "ana").mkdir()
    (tmp_path / "bob.zip").write_bytes(b"")
    (tmp_path / "carl.ipynb").write_text("{}")
    (tmp_path / ".DS_Store").write_bytes(b"x")
    (tmp_path / "__MACOSX").mkdir()
    entries = find_entries(tmp_path)
    assert list(entries) == ["ana", "bob", "carl"]
    assert [entries[s].kind for s in entries] == ["folder", "zip", "notebook"]
    assert all(e.problem() == "" for e in entries.values())


def test_duplicate_student_is_reported_for_that_id_only(tmp_path):
    (tmp_path / "ana").mkdir()
    (tmp_path / "ana.zip").write_bytes(b"")
    (tmp_path / "bob").mkdir()
    entries = find_entries(tmp_path)
    assert entries["ana"].kind == "duplicate"
    assert "several submissions for student 'ana' (ana/, ana.zip)" in entries["ana"].problem()
    assert entries["bob"].problem() == ""
    with pytest.raises(BadSubmission, match="keep exactly one"):
        prepare(entries["ana"], tmp_path / "work")


def test_unsupported_entry_is_explained(tmp_path):
    (tmp_path / "ana.tar.gz").write_bytes(b"x")
    entry = find_entries(tmp_path)["ana.tar"]
    assert "unsupported submission type" in entry.problem()


def test_zip_extracts_files_and_unwraps_a_lone_folder(tmp_path):
    archive = make_zip(tmp_path / "ana.zip", {
        "ana/activations.py": b"x = 1\n", "ana/sub/data.txt": b"d", "__MACOSX/ana/._activations.py": b"junk",
        "ana/.hidden": b"h",
    })
    (tmp_path / "work").mkdir()
    prepared = prepare(find_entries(tmp_path)["ana"], tmp_path / "work")
    assert prepared.folder.name == "ana"
    assert (prepared.folder / "activations.py").read_bytes() == b"x = 1\n"
    assert (prepared.folder / "sub" / "data.txt").read_bytes() == b"d"
    assert not (prepared.folder / ".hidden").exists()
    assert not list(tmp_path.joinpath("work").rglob("__MACOSX"))
    assert archive.exists()


@pytest.mark.parametrize("name, message", [
    ("../evil.py", "points outside"),
    ("a/../../evil.py", "points outside"),
    ("/etc/evil.py", "absolute path"),
    ("C:/evil.py", "absolute path"),
    ("..\\evil.py", "points outside"),
])
def test_zip_with_unsafe_path_is_refused_and_writes_nothing(tmp_path, name, message):
    archive = make_zip(tmp_path / "ana.zip", {"activations.py": b"ok", name: b"evil"})
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(BadSubmission, match=message):
        extract_zip(archive, dest)
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "evil.py").exists()


def test_zip_with_symlink_is_refused(tmp_path):
    archive = make_zip(tmp_path / "ana.zip", {"activations.py": b"/etc/shadow"},
                       mode={"activations.py": stat.S_IFLNK | 0o777})
    with pytest.raises(BadSubmission, match="symbolic link"):
        extract_zip(archive, tmp_path)


def test_zip_with_device_file_is_refused(tmp_path):
    archive = make_zip(tmp_path / "ana.zip", {"fifo": b""}, mode={"fifo": stat.S_IFIFO | 0o644})
    with pytest.raises(BadSubmission, match="special file"):
        extract_zip(archive, tmp_path)


def test_zip_with_too_many_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "ZIP_MAX_FILES", 3)
    archive = make_zip(tmp_path / "ana.zip", {f"f{i}.py": b"" for i in range(4)})
    with pytest.raises(BadSubmission, match="4 members"):
        extract_zip(archive, tmp_path)


def test_zip_bomb_is_refused_by_declared_size(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "ZIP_MAX_BYTES", 1 << 20)
    archive = make_zip(tmp_path / "ana.zip", {"zeros.bin": bytes(2 << 20)})
    assert archive.stat().st_size < 100_000  # deflate squeezes 2 MiB of zeros to a few KiB
    with pytest.raises(BadSubmission, match="more than 1 MiB"):
        extract_zip(archive, tmp_path / "dest")


def test_zip_that_lies_about_its_size_is_still_refused(tmp_path, monkeypatch):
    """A forged small file_size in the headers must not get 2 MiB past a 1 MiB cap."""
    monkeypatch.setattr(submissions, "ZIP_MAX_BYTES", 1 << 20)
    archive = make_zip(tmp_path / "ana.zip", {"zeros.bin": bytes(2 << 20)})
    real_infolist = zipfile.ZipFile.infolist

    def lying_infolist(self):
        infos = real_infolist(self)
        for info in infos:
            info.file_size = 10
        return infos

    monkeypatch.setattr(zipfile.ZipFile, "infolist", lying_infolist)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(BadSubmission, match="more than 1 MiB|damaged"):
        extract_zip(archive, dest)
    assert sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()) <= 1 << 20


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped-0", "flipped-5"])
def test_damaged_zip_is_a_clear_error(tmp_path, damage):
    """Flipping the first compressed byte breaks the deflate stream (zlib.error); a later one the CRC."""
    good = make_zip(tmp_path / "good.zip", {"activations.py": b"def relu(z):\n    return z\n" * 50}).read_bytes()
    if damage == "garbage":
        data = b"this is not a zip"
    elif damage == "truncated":
        data = good[: len(good) // 2]
    else:
        # Flip a byte of the compressed data (after the 30-byte local header and the name).
        at = 30 + len("activations.py") + int(damage.split("-")[1])
        data = good[:at] + bytes([good[at] ^ 0xFF]) + good[at + 1:]
    archive = tmp_path / "ana.zip"
    archive.write_bytes(data)
    with pytest.raises(BadSubmission, match="ana.zip (is not a readable zip archive|is damaged)"):
        extract_zip(archive, tmp_path / "dest")


def test_encrypted_zip_is_refused(tmp_path):
    archive = make_zip(tmp_path / "ana.zip", {"activations.py": b"x"})
    data = bytearray(archive.read_bytes())
    # Set the "encrypted" general-purpose flag in the central directory entry.
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1
    archive.write_bytes(bytes(data))
    with pytest.raises(BadSubmission, match="encrypted"):
        extract_zip(archive, tmp_path / "dest")


def test_zip_with_a_name_twice_is_refused(tmp_path):
    archive = tmp_path / "ana.zip"
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(archive, "w") as zf:
            zf.writestr("activations.py", b"a")
            zf.writestr("activations.py", b"b")
    with pytest.raises(BadSubmission, match="twice"):
        extract_zip(archive, tmp_path / "dest")


def test_folder_is_graded_in_place_and_empty_folder_is_noted(tmp_path):
    (tmp_path / "subs" / "ana").mkdir(parents=True)
    (tmp_path / "subs" / "ana" / "activations.py").write_text("x = 1\n")
    (tmp_path / "subs" / "empty").mkdir()
    entries = find_entries(tmp_path / "subs")
    ana = prepare(entries["ana"], tmp_path / "w1")
    assert ana.folder == tmp_path / "subs" / "ana" and ana.notes == []
    empty = prepare(entries["empty"], tmp_path / "w2")
    assert [n.split(":")[0] for n in empty.notes] == ["no exercise files found in the submission"]


def notebook(cells: list[str]) -> str:
    import json

    return json.dumps({"cells": [{"cell_type": "code", "source": c, "metadata": {}, "outputs": [],
                                  "execution_count": None, "id": f"c{i}"} for i, c in enumerate(cells)],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_notebook_entry_becomes_cnn_py(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "ana.ipynb").write_text(
        notebook(["%matplotlib inline\nimport numpy as np", "def build_model():\n    return 1", "history = train(1)"]))
    (tmp_path / "w").mkdir()
    prepared = prepare(find_entries(tmp_path / "subs")["ana"], tmp_path / "w")
    assert sorted(p.name for p in prepared.folder.iterdir()) == ["cnn.py"]
    text = (prepared.folder / "cnn.py").read_text()
    assert "def build_model" in text and "%matplotlib" not in text and "history" not in text
    compile(text, "cnn.py", "exec")
    assert prepared.notes == ["graded the code cells of ana.ipynb as cnn.py"]


def test_released_lab_notebook_in_a_folder_is_converted_in_a_copy(tmp_path):
    sub = tmp_path / "subs" / "ana"
    sub.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "cnn_fashion_mnist.ipynb", sub)
    (sub / "activations.ipynb").write_text(notebook(["def relu(z):\n    return z"]))
    (tmp_path / "w").mkdir()
    prepared = prepare(find_entries(tmp_path / "subs")["ana"], tmp_path / "w")
    assert "def relu" in (prepared.folder / "activations.py").read_text()
    cnn = (prepared.folder / "cnn.py").read_text()
    assert "def build_model" in cnn and "def train" in cnn
    assert sorted(p.name for p in sub.iterdir()) == ["activations.ipynb", "cnn_fashion_mnist.ipynb"], \
        "the instructor's copy must not be written to"


def test_python_file_wins_over_a_notebook_and_links_are_not_followed(tmp_path):
    sub = tmp_path / "subs" / "ana"
    sub.mkdir(parents=True)
    (sub / "activations.py").write_text("mine = 1\n")
    (sub / "activations.ipynb").write_text(notebook(["theirs = 1"]))
    os.symlink(ROOT / "solutions" / "cnn_fashion_mnist.ipynb", sub / "cnn_fashion_mnist.ipynb")
    (tmp_path / "w").mkdir()
    prepared = prepare(find_entries(tmp_path / "subs")["ana"], tmp_path / "w")
    assert prepared.folder == sub and prepared.notes == []
    assert not (sub / "cnn.py").exists()


def test_unreadable_notebook_is_that_students_problem(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "ana.ipynb").write_text("{not json")
    (tmp_path / "w").mkdir()
    with pytest.raises(BadSubmission, match="^ana.ipynb: not a readable Jupyter notebook") as e:
        prepare(find_entries(tmp_path / "subs")["ana"], tmp_path / "w")
    assert str(tmp_path) not in str(e.value), "the message names the file, not the grader's paths"


def test_content_hash_follows_content_not_times(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "activations.py").write_text("x = 1\n")
    (a / "__pycache__").mkdir()
    (a / "__pycache__" / "junk.pyc").write_bytes(b"1")
    h = content_hash(a)
    os.utime(a / "activations.py", (0, 0))
    (a / "__pycache__" / "junk.pyc").write_bytes(b"2")
    assert content_hash(a) == h
    (a / "activations.py").write_text("x = 2\n")
    assert content_hash(a) != h
    (a / "activations.py").write_text("x = 1\n")
    assert content_hash(a) == h
    (a / "activations.py").rename(a / "losses.py")
    assert content_hash(a) != h


def test_pack_and_unpack_round_trip(tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "activations.py").write_bytes(b"x = 1\n")
    (src / "sub" / "w.bin").write_bytes(bytes(range(256)))
    os.symlink("/etc/passwd", src / "link")
    packed = pack(src)
    dest = tmp_path / "dest"
    dest.mkdir()
    unpack(packed, dest)
    assert content_hash(dest) == content_hash(src)
    assert os.readlink(dest / "link") == "/etc/passwd"


@pytest.mark.parametrize("name", ["../x", "/abs", "a/../../x"])
def test_unpack_refuses_paths_outside(tmp_path, name):
    with pytest.raises(BadSubmission, match="invalid path"):
        unpack({name: b"x"}, tmp_path)
