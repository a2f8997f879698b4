"""The public recorded vectors (autograder/course/vectors.py): read once per process while their file is unchanged."""
import json
import os

from autograder.course import vectors


def test_cases_are_read_once_and_again_when_the_file_changes(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(vectors, "DATA", data)
    path = data / "activations.json"
    row = {"id": "a", "function": "relu", "args": vectors.encode([1.0]), "kwargs": vectors.encode({}),
           "expected": vectors.encode(1.0), "hints": []}
    path.write_text(json.dumps([row]))
    first = vectors._cases("activations")
    assert [c.id for c in first] == ["a"] and vectors._cases("activations") is first
    assert [c.id for c in vectors.recorded("activations", data)] == ["a"]
    path.write_text(json.dumps([row, {**row, "id": "b"}]))
    os.utime(path, ns=(1, 1))  # another mtime, whatever the clock's resolution
    assert [c.id for c in vectors._cases("activations")] == ["a", "b"]
