"""Durations as operators type them: ``900``, ``30s``, ``15m``, ``2h``, ``1h30m``, ``250ms``."""

from __future__ import annotations

import argparse
import re

__all__ = ["duration_text", "parse_duration"]

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|d|h|m|s)")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds from ``900``, ``30s``, ``15m``, ``2h``, ``1h30m``, ``250ms`` or ``7d``."""
    value = text.strip().lower()
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not parts or "".join(number + unit for number, unit in parts) != value:
            raise argparse.ArgumentTypeError(
                f"expected a duration like 900, 30s, 15m, 2h or 1h30m, got {text!r}"
            ) from None
        seconds = sum(float(number) * _SECONDS_PER_UNIT[unit] for number, unit in parts)
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a duration of 0 or more, got {text!r}")
    return seconds


def duration_text(seconds: float) -> str:
    """``6600`` -> ``1h50m``: a default as an operator would type it (parse_duration reads it)."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if 0 < seconds < 1:
        return f"{seconds * 1000:g}ms"
    if seconds != int(seconds) or not (days or hours or minutes):
        return f"{seconds:g}s"
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{value}{unit}" for value, unit in parts if value)
