"""The campaign's calling window, as the dispatcher asks about it: open now? open when?

Every answer is about a moment the caller read from the campaign's clock just before
asking: the window is checked against the wall clock at the moment of each intent,
never against a time computed earlier (a machine that slept through the evening must
not dial at 3 am because the evening was when it last looked).
"""

from __future__ import annotations

from polyout._campaign._clock import utc_datetime
from polyout._campaign._schedule import CallingWindow, check_zone
from polyout._errors import ConfigurationError

__all__ = ["check_timezone", "parse_window", "window_opening", "window_text", "within_window"]


def parse_window(window: CallingWindow | str | None) -> CallingWindow | None:
    """The ``window=`` setting as a :class:`CallingWindow`, or ConfigurationError."""
    if window is None or isinstance(window, CallingWindow):
        return window
    if not isinstance(window, str):
        raise ConfigurationError(
            "window", f"must be a CallingWindow or text like '09:00-20:00', got {window!r}"
        )
    try:
        return CallingWindow.parse(window)
    except ValueError as exc:
        raise ConfigurationError("window", str(exc)) from None


def window_text(window: CallingWindow | None) -> str | None:
    """How a window is stored in the journal (``CallingWindow.parse`` reads it back)."""
    return None if window is None else str(window)


def check_timezone(name: str | None) -> str | None:
    """The ``default_timezone=`` setting, canonical, or ConfigurationError."""
    if name is None:
        return None
    try:
        return check_zone(name)
    except ValueError as exc:
        raise ConfigurationError("default_timezone", str(exc)) from None


def within_window(window: CallingWindow | None, zones: tuple[str, ...], now: float) -> bool:
    """Whether a contact in ``zones`` may be rung at ``now`` (always, without a window)."""
    return window is None or window.is_open(zones, utc_datetime(now))


def window_opening(window: CallingWindow | None, zones: tuple[str, ...], at: float) -> float:
    """``at``, or the next time ``window`` is open in all of ``zones``."""
    if window is None:
        return at
    moment = utc_datetime(at)
    if window.is_open(zones, moment):
        # ``at`` itself, not its microsecond-rounded datetime read back: a float a
        # microsecond later would be "not yet" to a caller comparing the two.
        return at
    return max(at, window.next_opening(zones, moment).timestamp())
