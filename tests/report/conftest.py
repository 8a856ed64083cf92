"""The CLI tests' sandbox (a real one, on 127.0.0.1, in a thread) serves these tests too."""

from __future__ import annotations

from tests.cli.conftest import sandbox

__all__ = ["sandbox"]
