"""Contact files are written for real into tmp_path: the readers are tested on disk."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WriteFile = Callable[[str, bytes | str], Path]


@pytest.fixture
def write(tmp_path: Path) -> WriteFile:
    """``write("contacts.csv", text_or_bytes)`` -> its path (text is written as UTF-8)."""

    def write_file(name: str, content: bytes | str) -> Path:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return write_file
