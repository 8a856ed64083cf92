"""The sandbox fixture of the CLI tests, for the webhook tests that run the command."""

from tests.cli.conftest import sandbox

__all__ = ["sandbox"]
