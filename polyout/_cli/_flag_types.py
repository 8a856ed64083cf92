"""The types flags parse into, each with bounds: a bad value is refused while parsing.

argparse names the flag in its message (``argument --retry-delay: ...``), so every value
is checked before anything is dialled, and a value no campaign could use (a retry in
thirty thousand years, a poll interval of zero) never reaches the library.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from polyout._cli._durations import duration_text, parse_duration

__all__ = ["bounded_duration", "bounded_float", "bounded_int", "parse_metadata"]

#: Text in, value out; raises ``argparse.ArgumentTypeError`` with the allowed range.
Parse = Callable[[str], float]


def parse_metadata(text: str) -> tuple[str, str]:
    """``KEY=VALUE`` (the value may contain ``=``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low} to {high:,}, got {text!r}")
        return value

    return parse


def bounded_float(high: float) -> Parse:
    """A number above 0 and at most ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (0 < value <= high and math.isfinite(value)):
            raise argparse.ArgumentTypeError(
                f"expected a number above 0 and at most {high:,g}, got {text!r}"
            )
        return value

    return parse


def bounded_duration(low: float, high: float) -> Parse:
    """A duration (``900``, ``30s``, ``15m``...) from ``low`` to ``high`` seconds."""

    def parse(text: str) -> float:
        seconds = parse_duration(text)
        if not low <= seconds <= high:
            raise argparse.ArgumentTypeError(
                f"expected a duration from {duration_text(low)} to {duration_text(high)}, "
                f"got {text!r}"
            )
        return seconds

    return parse
