"""The command-line sandbox fixture, shared with ``tests/cli``."""

from tests.cli.conftest import sandbox

__all__ = ["sandbox"]
