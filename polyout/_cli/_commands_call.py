"""``polyout call`` and ``polyout status``: one call at a time, plain text or JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from polyout._cli._connection import client_from_args
from polyout._cli._errors import CliError, ExitCode
from polyout._cli._interrupt import Interrupts, run
from polyout._errors import NotFoundError
from polyout._models import CallState, CallStatus
from polyout._phone import mask_number
from polyout._request import build_request

__all__ = ["call", "status"]


def call(args: argparse.Namespace) -> int:
    return run(lambda interrupts: _call(args, interrupts))


def status(args: argparse.Namespace) -> int:
    return run(lambda interrupts: _status(args))


async def _call(args: argparse.Namespace, interrupts: Interrupts) -> int:
    client = client_from_args(args)
    request = build_request(
        args.number, country_code=args.country_code, metadata=dict(args.metadata)
    )
    masked = mask_number(request.to_number)
    async with client:
        try:
            placed = await client.place(request)
        except asyncio.CancelledError:
            raise CliError(
                f"interrupted while placing the call to {masked}: it may have been placed, "
                "check before calling again",
                ExitCode.INTERRUPTED,
            ) from None
        sid = placed.call_sid
        if not args.wait:
            if args.json:
                _print_json({"call_sid": sid, "to_number": masked, "state": placed.state})
            else:
                print(sid, flush=True)
                _note(f"placed a call to {masked} (correlation id {placed.correlation_id})")
            return ExitCode.OK
        if not args.json:
            print(sid, flush=True)
            _note(f"following the call to {masked} (Ctrl-C stops following, not the call)")
        try:
            final = await client.wait_for_call(sid, poll_interval=args.poll_interval)
        except asyncio.CancelledError:
            raise CliError(
                f"stopped following {sid}; the call goes on: polyout status {sid}",
                ExitCode.INTERRUPTED,
            ) from None
    if args.json:
        _print_json({**_status_fields(final), "to_number": masked})
    else:
        print(_status_line(final), flush=True)
    return ExitCode.OK if final.state is CallState.SUCCESS else ExitCode.ATTENTION


async def _status(args: argparse.Namespace) -> int:
    async with client_from_args(args) as client:
        try:
            current = await client.get_status(args.call_sid)
        except NotFoundError as exc:
            # The API answered: not a connection error, an answer about this sid.
            raise CliError(
                f"no call {args.call_sid} ({exc}): the API does not know it with these "
                "connection settings (--api, --agent-id, --environment...), or its status "
                "expired (kept about 2 hours after the call ends)",
                ExitCode.ATTENTION,
            ) from None
    if args.json:
        _print_json(_status_fields(current))
    else:
        rows = [
            ("call sid", current.call_sid),
            ("state", str(current.state)),
            ("raw status", current.raw_status or "-"),
            ("reason", current.reason or "-"),
            ("final", "yes" if current.is_final else "no"),
            ("correlation id", current.correlation_id or "-"),
        ]
        width = max(len(name) for name, _ in rows)
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
    return ExitCode.OK


def _status_fields(current: CallStatus) -> dict[str, Any]:
    return {
        "call_sid": current.call_sid,
        "state": str(current.state),
        "raw_status": current.raw_status,
        "reason": current.reason,
        "final": current.is_final,
        "correlation_id": current.correlation_id,
    }


def _status_line(current: CallStatus) -> str:
    line = f"{current.state} (raw status {current.raw_status or '-'})"
    return f"{line}: {current.reason}" if current.reason else line


def _print_json(value: dict[str, Any]) -> None:
    print(json.dumps(value, default=str), flush=True)


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
