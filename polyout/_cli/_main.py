"""The ``polyout`` command once its stop signals are owned: parse, call, render.

``run_command`` returns the exit status (see ``_errors.ExitCode``) and never lets a
traceback reach the operator: every failure is one line on stderr, with any credential
scrubbed from it. Command modules are imported only once their command is chosen, so
the commands that draw with rich are the only ones that need it.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence

from polyout._cli._args import build_parser
from polyout._cli._errors import CliError, ExitCode, explain, from_os_error
from polyout._cli._interrupt import Interrupted
from polyout._cli._secrets import scrub, secrets_in
from polyout._cli._stop import StopSignals
from polyout._log import FORMAT, env_level, use_stderr_handler

__all__ = ["run_command"]

# command -> (module, function, needs rich)
_COMMANDS: dict[str, tuple[str, str, bool]] = {
    "call": ("_commands_call", "call", False),
    "status": ("_commands_call", "status", False),
    "sandbox": ("_commands_sandbox", "sandbox", False),
    "campaign run": ("_commands_campaign", "run", True),
    "campaign resume": ("_commands_campaign", "resume", True),
    "campaign report": ("_commands_report", "report", True),
    "campaign export": ("_commands_journal", "export", False),
    "campaign audit": ("_commands_audit", "audit", False),
    "campaign validate": ("_commands_report", "validate", True),
    "campaign work": ("_commands_work", "work", True),
    "campaign deliver": ("_commands_deliver", "deliver", False),
    "campaign rehearse": ("_commands_rehearse", "rehearse", True),
    "campaign pause": ("_commands_control", "pause", False),
    "campaign cancel": ("_commands_control", "cancel", False),
    "campaign status": ("_commands_control", "status", False),
    "campaign suppress": ("_commands_control", "suppress", False),
    "campaign retry": ("_commands_control", "retry", False),
    "campaign add": ("_commands_control", "add", False),
    "demo": ("_demo", "demo", True),
}


def run_command(argv: Sequence[str] | None, signals: StopSignals) -> int:
    """Run ``polyout`` with ``argv`` (default: the process's arguments); the exit status."""
    own_process = argv is None  # the process is this command (not a caller's, or a test's)
    argv = list(sys.argv[1:] if argv is None else argv)
    # Found before parsing: argparse echoes a misplaced --api-key's value in its error.
    secrets = secrets_in(argv)
    args: argparse.Namespace | None = None
    logging_on = False
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help and --version print, then exit 0
            return exc.code if isinstance(exc.code, int) else ExitCode.OK
        logging_on = _configure_logging(getattr(args, "verbose", False), secrets)
        return _dispatch(args, freeze=own_process)
    except BaseException as exc:  # one line, never a traceback (but see -v)
        signals.decided()  # a signal now must not cut the line short
        return _report_failure(exc, args, secrets)
    finally:
        if logging_on:
            use_stderr_handler(None)


def _dispatch(args: argparse.Namespace, *, freeze: bool) -> int:
    name = args.command
    if name == "campaign":
        name = f"campaign {args.campaign_command}"
    module_name, function_name, needs_rich = _COMMANDS[name]
    if needs_rich:
        _require_rich(name)
    module = importlib.import_module(f"polyout._cli.{module_name}")
    if freeze:
        # What is loaded by now (the command's modules, aiohttp, the engine) lives as long
        # as the process: frozen, a full collection no longer walks it. One took 22 ms, long
        # enough for a trigger held up by it to reach a strict server inside the next second.
        # (Not in a caller's process: its garbage of the moment would never be collected.)
        gc.freeze()
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


def _report_failure(exc: BaseException, args: argparse.Namespace | None, secrets: list[str]) -> int:
    if isinstance(exc, Interrupted | KeyboardInterrupt):
        error: CliError | None = CliError("interrupted", ExitCode.INTERRUPTED)
    elif isinstance(exc, SystemExit):
        raise exc
    else:
        error = explain(exc) or from_os_error(exc)
    verbose = args is not None and getattr(args, "verbose", False)
    if error is None:
        if verbose:
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            print(scrub(trace, secrets), end="", file=sys.stderr)
        error = CliError(
            f"internal error: {type(exc).__name__}: {exc} (a bug in polyout: rerun with -v "
            "and report the traceback)",
            ExitCode.INTERNAL,
        )
    print(f"polyout: error: {scrub(error.message, secrets)}", file=sys.stderr, flush=True)
    return int(error.code)


def _configure_logging(verbose: bool, secrets: list[str]) -> bool:
    """One stderr handler, for -v or POLYOUT_LOG or both (never one each); True if any."""
    level = logging.DEBUG if verbose else env_level()
    if level is None:
        return False
    handler = _StderrHandler(secrets)
    handler.setFormatter(logging.Formatter(FORMAT))
    use_stderr_handler(handler, level)
    return True


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time: a live progress bar replaces it
    with a proxy that prints log lines above the bar instead of through it. Scrubs every
    line, as every other line the command prints is scrubbed."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(scrub(self.format(record), self._secrets) + "\n")
        except Exception:
            self.handleError(record)
