"""The report's HTML tables: every number a chart shows, readable without JavaScript.

Text from the store (ids, reasons, settings) is escaped; numbers are masked before they
get here (:class:`~._data.AttentionRow`).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence

from polyout._report._data import DURATION_BINS, ReportData
from polyout._report._timeline import Timeline

__all__ = [
    "attention_table",
    "chart_numbers",
    "history_table",
    "settings_table",
    "table",
    "utc_text",
]

Cell = object
#: The units of the settings that have one (``CampaignConfig``: rates per second,
#: durations in seconds).
_UNITS = {
    "rate": "per second",
    "poll_rate": "per second",
    "retry_delay": "s",
    "poll_deadline": "s",
    "poll_interval": "s",
    "stop_grace": "s",
    "outage_limit": "s",
}


def utc_text(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return html.escape(str(value))


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    numeric: Sequence[int] = (),
    wrap: Sequence[int] = (),
) -> str:
    """A plain table; ``numeric`` columns are right-aligned, ``wrap`` ones may wrap."""

    def attributes(index: int) -> str:
        if index in numeric:
            return " class=num"
        return " class=wrap" if index in wrap else ""

    head = "".join(
        f'<th scope="col"{attributes(i)}>{html.escape(h)}</th>' for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(f"<td{attributes(i)}>{_cell(value)}</td>" for i, value in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def chart_numbers(data: ReportData, chart: str) -> str:
    """The table behind chart ``chart`` (its id in ``_figures.charts``)."""
    if chart == "outcomes":
        rows = [(s, n, _percent(n, data.total)) for s, n in data.states.items()]
        return table(("state", "contacts", "share"), rows, numeric=(1, 2))
    if chart == "placements":
        rows2 = [(utc_text(m * 60), n) for m, n in data.placements_by_minute.items() if n]
        return table(("minute (UTC)", "placements"), rows2, numeric=(1,))
    if chart == "answer-hour":
        rows3 = [
            (f"{hour:02d}:00", placed, answered, _percent(answered, placed))
            for hour, (placed, answered) in enumerate(data.by_local_hour)
            if placed
        ]
        return table(("local hour", "calls", "answered", "rate"), rows3, numeric=(1, 2, 3))
    if chart == "answer-country":
        rows4 = [
            (region, contacts, placed, answered, _percent(answered, placed))
            for region, (contacts, placed, answered) in data.by_country.items()
        ]
        return table(
            ("country", "contacts", "calls", "answered", "rate"), rows4, numeric=(1, 2, 3, 4)
        )
    if chart == "attempts":
        return table(("attempts", "contacts"), data.attempts.items(), numeric=(0, 1))
    if chart == "time-to-final":
        rows5 = [
            (label, n) for (_, label), n in zip(DURATION_BINS, data.time_to_final, strict=True)
        ]
        return table(("first dial to final", "contacts"), rows5, numeric=(1,))
    raise ValueError(f"no chart {chart!r}")


def attention_table(data: ReportData) -> str:
    rows = [
        (
            row.row,
            row.contact_id,
            row.number,
            row.state,
            row.attempts,
            row.call_sid,
            row.why,
            _iso_text(row.finished_at),
        )
        for row in data.attention
    ]
    return table(
        ("row", "id", "number", "state", "attempts", "last call sid", "why", "final (UTC)"),
        rows,
        numeric=(0, 4),
        wrap=(1, 6),
    )


def _iso_text(value: str | None) -> str | None:
    """``2026-03-02T09:25:13.906015Z`` -> ``2026-03-02 09:25:13``."""
    return value[:19].replace("T", " ") if value else None


def history_table(timeline: Timeline) -> str:
    rows = [(utc_text(e.at), e.what, e.by, e.detail) for e in timeline.events]
    return table(("when", "what", "by", "detail"), rows, wrap=(3,))


def settings_table(data: ReportData) -> str:
    """The stored settings and connection identity (neither ever holds a key)."""
    rows: list[tuple[str, Cell]] = [("campaign", data.name), ("created", utc_text(data.created_at))]
    rows += [(f"connection: {key}", value) for key, value in sorted(data.connection.items())]
    for key, value in data.settings.items():
        shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        unit = _UNITS.get(key)
        if unit and value is not None:
            shown = f"{_cell(shown) if not isinstance(shown, str) else shown} {unit}"
        rows.append((key.replace("_", " "), shown))
    rows.append(("do-not-call numbers", data.suppressed_count))
    return table(("setting", "value"), rows, wrap=(1,))
