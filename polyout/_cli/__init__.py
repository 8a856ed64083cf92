"""The ``polyout`` command: a thin layer over the library that parses, calls and renders.

``main(argv)`` returns the exit status (see ``_errors.ExitCode``) and never lets a
traceback reach the operator: every failure is one line on stderr, with any credential
scrubbed from it. Command modules are imported only once their command is chosen, so
``--help`` stays quick and the commands that draw with rich are the only ones that need it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence

from polyout._cli._args import build_parser
from polyout._cli._connection import api_key_from
from polyout._cli._errors import CliError, ExitCode, explain, scrub
from polyout._cli._interrupt import Interrupted
from polyout._log import configure_from_env, logger

__all__ = ["main"]

# command -> (module, function, needs rich)
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "call": ("_commands_call", "call", False),
    "status": ("_commands_call", "status", False),
    "sandbox": ("_commands_sandbox", "sandbox", False),
    "campaign run": ("_commands_campaign", "run", True),
    "campaign resume": ("_commands_campaign", "resume", True),
    "campaign report": ("_commands_campaign", "report", True),
    "campaign validate": ("_commands_campaign", "validate", True),
    "demo": ("_demo", "demo", True),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``polyout`` with ``argv`` (default: the process's arguments); return the exit status."""
    args: argparse.Namespace | None = None
    handler = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help and --version print, then exit 0
            return exc.code if isinstance(exc.code, int) else ExitCode.OK
        handler = _configure_logging(verbose=getattr(args, "verbose", False))
        return _dispatch(args)
    except BaseException as exc:  # one line, never a traceback (but see -v)
        return _report_failure(exc, args)
    finally:
        if handler is not None:
            logger.removeHandler(handler)


def _dispatch(args: argparse.Namespace) -> int:
    name = args.command
    if name == "campaign":
        name = f"campaign {args.campaign_command}"
    module_name, function_name, needs_rich = _COMMANDS[name]
    if needs_rich:
        _require_rich(name)
    module = importlib.import_module(f"polyout._cli.{module_name}")
    command: Callable[[argparse.Namespace], int] = getattr(module, function_name)
    return int(command(args))


def _require_rich(command: str) -> None:
    try:
        importlib.import_module("rich")
    except ImportError:
        raise CliError(
            f"polyout {command} needs rich, which is not installed: "
            "pip install 'polyout[cli]' (the call, status and sandbox commands work without it)",
            ExitCode.USAGE,
        ) from None


def _report_failure(exc: BaseException, args: argparse.Namespace | None) -> int:
    if isinstance(exc, Interrupted | KeyboardInterrupt):
        error: CliError | None = CliError("interrupted", ExitCode.INTERRUPTED)
    elif isinstance(exc, SystemExit):
        raise exc
    else:
        error = explain(exc) or _from_os_error(exc)
    verbose = args is not None and getattr(args, "verbose", False)
    if error is None:
        if verbose:
            traceback.print_exception(type(exc), exc, exc.__traceback__)
        error = CliError(
            f"internal error: {type(exc).__name__}: {exc} (a bug in polyout: rerun with -v "
            "and report the traceback)",
            ExitCode.INTERNAL,
        )
    secrets = [key] if args is not None and (key := api_key_from(args)) else []
    print(f"polyout: error: {scrub(error.message, secrets)}", file=sys.stderr, flush=True)
    return int(error.code)


def _from_os_error(exc: BaseException) -> CliError | None:
    if not isinstance(exc, OSError):
        return None
    where = f"{exc.filename}: " if exc.filename else ""
    return CliError(f"{where}{exc.strerror or exc}", ExitCode.USAGE)


def _configure_logging(*, verbose: bool) -> logging.Handler | None:
    configure_from_env()  # POLYOUT_LOG=debug works the same as in the library
    if not verbose:
        return None
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return handler


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time: a live progress bar replaces it
    with a proxy that prints log lines above the bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
