"""``python -m polyout.sandbox``: run the sandbox until Ctrl-C or SIGTERM.

``add_arguments`` and ``config_from_args`` are public so that another command (the
``polyout sandbox`` subcommand) can offer the same flags without copying them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Sequence

import attrs

from ._config import FaultConfig, SandboxConfig
from ._outcomes import LAST_DIGIT, OutcomeMix, OutcomeRule

__all__ = ["add_arguments", "config_from_args", "main"]


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text}")
    return value


def _latency(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    bounds = (_seconds(low), _seconds(high) if sep else _seconds(low))
    if bounds[0] > bounds[1]:
        raise argparse.ArgumentTypeError(f"expected S or MIN-MAX with MIN <= MAX, got {text}")
    return bounds


def _numbers(text: str) -> frozenset[int]:
    try:
        numbers = frozenset(int(item) for item in text.split(",") if item.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected request numbers like 1,5,9, got {text}"
        ) from None
    if any(n < 1 for n in numbers):
        raise argparse.ArgumentTypeError(f"request numbers count from 1, got {text}")
    return numbers


def _names(text: str) -> frozenset[str]:
    return frozenset(item.strip() for item in text.split(",") if item.strip())


def _outcome_mix(text: str) -> OutcomeMix:
    try:
        return OutcomeMix.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the sandbox's flags to ``parser`` (read them back with ``config_from_args``)."""
    defaults = SandboxConfig()
    server = parser.add_argument_group("server")
    server.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    server.add_argument(
        "--port",
        type=int,
        default=8000,
        help="port to bind, 0 for any free one (default: %(default)s)",
    )
    server.add_argument(
        "--api-key", metavar="KEY", help="the only credential accepted (default: any non-empty one)"
    )
    server.add_argument(
        "--forbidden-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a credential answered with 403 (insufficient permissions); repeatable",
    )
    server.add_argument(
        "--environments",
        type=_names,
        metavar="ENV,…",
        help="Agents API environments with a connector; others answer 404 (default: all three)",
    )
    server.add_argument(
        "--ledger-file", metavar="PATH", help="also append every ledger record here as JSON lines"
    )

    calls = parser.add_argument_group("calls (simulated seconds)")
    calls.add_argument(
        "--queue-duration", type=_seconds, default=defaults.queue_duration, metavar="S"
    )
    calls.add_argument(
        "--ring-duration", type=_seconds, default=defaults.ring_duration, metavar="S"
    )
    calls.add_argument(
        "--call-duration",
        type=_seconds,
        default=defaults.call_duration,
        metavar="S",
        help="connected time of answered calls",
    )
    calls.add_argument(
        "--retention",
        type=_seconds,
        default=defaults.retention,
        metavar="S",
        help="status kept after a call ends",
    )
    calls.add_argument(
        "--time-scale",
        type=float,
        default=defaults.time_scale,
        metavar="X",
        help="simulated seconds per real second",
    )
    rule = calls.add_mutually_exclusive_group()
    rule.add_argument(
        "--outcomes",
        type=_outcome_mix,
        metavar="MIX",
        help="e.g. success=0.7,no_answer=0.15,busy=0.05,failure=0.1 (the default mix)",
    )
    rule.add_argument(
        "--outcome-rule",
        choices=[LAST_DIGIT],
        help="decide by the number's last digit: 0-6 success, 7 no answer, 8 busy, 9 failure",
    )
    calls.add_argument(
        "--seed",
        type=int,
        help="seed for outcomes and faults (default: random, shown in /_sandbox/config)",
    )

    faults = parser.add_argument_group(
        "faults (probabilities in [0, 1]; schedules are request numbers like 1,5,9)"
    )
    faults.add_argument(
        "--rate-limit",
        type=int,
        metavar="N",
        help="accepted triggers per key per sliding real second",
    )
    faults.add_argument(
        "--status-rate-limit",
        type=int,
        metavar="N",
        help="status requests per key per sliding real second",
    )
    faults.add_argument(
        "--fail-rate-500",
        type=_probability,
        default=0.0,
        metavar="P",
        help="trigger answers 500, not placed",
    )
    faults.add_argument(
        "--fail-rate-502",
        type=_probability,
        default=0.0,
        metavar="P",
        help="trigger answers 502, not placed",
    )
    faults.add_argument(
        "--cut-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="call placed, connection cut",
    )
    faults.add_argument(
        "--status-error-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="status answers 5xx",
    )
    faults.add_argument("--fail-on-500", type=_numbers, default=frozenset(), metavar="N,…")
    faults.add_argument("--fail-on-502", type=_numbers, default=frozenset(), metavar="N,…")
    faults.add_argument("--cut-on", type=_numbers, default=frozenset(), metavar="N,…")
    faults.add_argument("--status-error-on", type=_numbers, default=frozenset(), metavar="N,…")
    faults.add_argument(
        "--latency",
        type=_latency,
        metavar="S|MIN-MAX",
        help="added to triggers and status requests",
    )
    faults.add_argument(
        "--trigger-latency", type=_latency, metavar="S|MIN-MAX", help="added to triggers only"
    )
    faults.add_argument(
        "--status-latency", type=_latency, metavar="S|MIN-MAX", help="added to status requests only"
    )


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """The config the flags of ``add_arguments`` describe. Raises ValueError if invalid."""
    outcomes: OutcomeRule = LAST_DIGIT if args.outcome_rule else (args.outcomes or OutcomeMix())
    no_latency = (0.0, 0.0)
    faults = FaultConfig(
        rate_limit=args.rate_limit,
        status_rate_limit=args.status_rate_limit,
        trigger_500_rate=args.fail_rate_500,
        trigger_502_rate=args.fail_rate_502,
        cut_rate=args.cut_rate,
        status_error_rate=args.status_error_rate,
        trigger_500_on=args.fail_on_500,
        trigger_502_on=args.fail_on_502,
        cut_on=args.cut_on,
        status_error_on=args.status_error_on,
        trigger_latency=args.trigger_latency or args.latency or no_latency,
        status_latency=args.status_latency or args.latency or no_latency,
    )
    config = SandboxConfig(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        forbidden_keys=args.forbidden_key,
        queue_duration=args.queue_duration,
        ring_duration=args.ring_duration,
        call_duration=args.call_duration,
        retention=args.retention,
        time_scale=args.time_scale,
        outcomes=outcomes,
        seed=args.seed,
        faults=faults,
        ledger_file=args.ledger_file,
    )
    if args.environments is not None:
        config = attrs.evolve(config, environments=args.environments)
    return config


def build_parser(prog: str = "python -m polyout.sandbox") -> argparse.ArgumentParser:
    description = "A local emulator of PolyAI's outbound calling APIs: Agents, Platform, Connector."
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
    )
    add_arguments(parser)
    return parser


async def serve(config: SandboxConfig, *, own_process: bool = False) -> None:
    """Run a sandbox until SIGINT or SIGTERM, printing where it listens.

    ``own_process``: the process exists to serve, and may freeze its start-up objects.
    """
    # Here, not at the top: ``polyout --help`` builds this command's flags, and would load
    # the server (aiohttp's) with them.
    from ._server import Sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows has no loop signal handlers: Ctrl-C then arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    async with Sandbox(config) as sandbox:
        if own_process:
            # Everything loaded so far lives as long as the process: frozen, a full
            # collection no longer walks it. It took 15-21 ms, and a trigger arriving
            # meanwhile was stamped that late: a client spacing its triggers evenly met a
            # 429. (Not in a caller's process: its garbage of the moment would leak.)
            gc.freeze()
        url = sandbox.base_url
        key = "the configured key" if config.api_key else "any non-empty key"
        print(f"polyout sandbox serving PolyAI's outbound calling APIs at {url}", flush=True)
        print(
            f"point a client at base URL {url} with {key}; "
            f"ledger at {url}/_sandbox/ledger; Ctrl-C stops",
            flush=True,
        )
        await stop.wait()


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m polyout.sandbox") -> int:
    """Run the sandbox from command-line arguments; returns the exit status.

    ``prog`` names the command in usage and errors (e.g. ``"polyout sandbox"``).
    """
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config, own_process=argv is None))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:  # e.g. the port is taken
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 1
    return 0
