"""What the plugin's parts share: the session's state, settings (CLI -> environment -> default), test names."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

_state = pytest.StashKey[dict]()


def _setting(cfg: pytest.Config, option: str, env: str, default: str | None = None) -> str | None:
    value = cfg.getoption(option)
    return value if value is not None else os.environ.get(env, default)


def exercise_of(item: pytest.Item) -> str:
    """test_conv.py -> conv."""
    return _exercise_of_file(str(item.path))


@functools.lru_cache(maxsize=None)
def _exercise_of_file(path: str) -> str:
    return Path(path).stem.removeprefix("test_")  # asked six times per test: parsed once per file


def is_hidden(item: pytest.Item) -> bool:
    return "hidden" in item.path.parts
