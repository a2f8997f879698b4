"""What the plugin's parts share: the session's state, settings (CLI -> environment -> default), test names."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

_state = pytest.StashKey[dict]()


def _setting(cfg: pytest.Config, option: str, env: str, default: str | None = None) -> str | None:
    value = cfg.getoption(option)
    return value if value is not None else os.environ.get(env, default)


def exercise_of(item: pytest.Item) -> str:
    """test_conv.py -> conv."""
    return Path(str(item.fspath)).stem.removeprefix("test_")


def is_hidden(item: pytest.Item) -> bool:
    return "hidden" in Path(str(item.fspath)).parts
