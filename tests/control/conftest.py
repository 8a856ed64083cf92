"""The live-control tests' fixtures: the CLI tests' slow sandbox (calls of about two seconds)."""

from tests.cli.conftest import slow_sandbox  # noqa: F401  (a fixture, shared)
