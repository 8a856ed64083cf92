"""The report's charts, as plotly figures built from :class:`~._data.ReportData`.

plotly is the optional extra ``polyout[report]``: this module imports it, and only
:mod:`._command` imports this module, after checking that plotly is there. Colours are
the Okabe-Ito palette (told apart with every common colour-vision deficiency), and no
chart relies on colour alone: every bar is labelled on its axis.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import plotly.graph_objects as go  # type: ignore[import-untyped]

from polyout._report._data import DURATION_BINS, ReportData
from polyout._report._timeline import UNMARKED_KINDS, Timeline

__all__ = ["STATE_COLOURS", "Chart", "charts"]

#: One colour per state, Okabe-Ito first; greys for work left and exclusions.
STATE_COLOURS: Mapping[str, str] = {
    "scheduled": "#BBBBBB",
    "dialing": "#88CCEE",
    "in_flight": "#0072B2",
    "success": "#009E73",
    "no_answer": "#E69F00",
    "busy": "#CC79A7",
    "failure": "#D55E00",
    "cancelled": "#999999",
    "expired": "#56B4E9",
    "unknown": "#332288",
    "invalid": "#882255",
    "duplicate": "#AAAAAA",
    "suppressed": "#777777",
}
_BAR = "#0072B2"
_RATE = "#D55E00"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
#: A timeline chart shows at most this many bars: a longer campaign gets wider bins.
_MAX_BINS = 720
_BIN_MINUTES = (1, 5, 15, 60, 240, 1440)

Chart = tuple[str, str, "go.Figure"]
"""(id, title, figure)."""


#: What plotly's "simple_white" template sets, written out: applying a named template
#: deep-copies it into every figure (a second for six charts).
_AXIS = {
    "showline": True,
    "linecolor": "#444444",
    "ticks": "outside",
    "tickcolor": "#444444",
    "showgrid": False,
    "zeroline": False,
    "automargin": True,
}


def _layout(
    figure: go.Figure,
    *,
    height: int = 320,
    xaxis: Mapping[str, object],
    yaxis: Mapping[str, object],
) -> go.Figure:
    figure.update_layout(
        template="none",
        paper_bgcolor="white",
        plot_bgcolor="white",
        xaxis={**_AXIS, **xaxis},
        yaxis={**_AXIS, **yaxis},
        height=height,
        margin={"l": 60, "r": 20, "t": 10, "b": 50},
        font={"family": _FONT, "size": 13, "color": "#1b1b1b"},
        showlegend=False,
        hoverlabel={"font": {"family": _FONT}},
        bargap=0.15,
    )
    return figure


def _utc(minute: float) -> str:
    return dt.datetime.fromtimestamp(minute * 60, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def outcomes(data: ReportData) -> go.Figure:
    states = list(data.states)
    counts = [data.states[s] for s in states]
    shares = [f"{n:,} ({100 * n / data.total:.1f}%)" if data.total else f"{n:,}" for n in counts]
    figure = go.Figure(
        go.Bar(
            x=counts,
            y=states,
            orientation="h",
            marker_color=[STATE_COLOURS.get(s, _BAR) for s in states],
            text=shares,
            textposition="auto",
            hovertemplate="%{y}: %{x:,} contacts<extra></extra>",
        )
    )
    return _layout(
        figure,
        height=max(320, 34 * len(states) + 60),
        yaxis={"autorange": "reversed", "title": None},
        xaxis={"title": "contacts"},
    )


def _bin_minutes(by_minute: Mapping[int, int]) -> int:
    if not by_minute:
        return 1
    span = max(by_minute) - min(by_minute) + 1
    return next((size for size in _BIN_MINUTES if span / size <= _MAX_BINS), _BIN_MINUTES[-1])


def _binned(by_minute: Mapping[int, int], size: int) -> dict[int, int]:
    bins: dict[int, int] = {}
    for minute, count in by_minute.items():
        start = minute - minute % size
        bins[start] = bins.get(start, 0) + count
    return bins


def placements(data: ReportData) -> go.Figure:
    size = _bin_minutes(data.placements_by_minute)
    bins = _binned(data.placements_by_minute, size)
    per = "per minute" if size == 1 else f"per minute, averaged over {size}-minute bins"
    figure = go.Figure(
        go.Bar(
            x=[_utc(start + size / 2) for start in bins],
            y=[count / size for count in bins.values()],
            width=[size * 60_000 * 0.9] * len(bins),
            marker_color=_BAR,
            name="placements",
            hovertemplate="%{x|%H:%M} UTC: %{y:.1f} placements " + per + "<extra></extra>",
        )
    )
    rate = data.settings.get("rate")
    if isinstance(rate, (int, float)) and bins:
        figure.add_hline(
            y=rate * 60,
            line={"color": _RATE, "dash": "dash", "width": 2},
            annotation_text=f"configured rate: {rate * 60:g}/min",
            annotation_position="bottom right",
        )
    _mark_429s(figure, data.timeline, size)
    _mark_control(figure, data.timeline)
    return _layout(
        figure,
        xaxis={"title": "time (UTC)", "type": "date"},
        yaxis={"title": "placements / min", "rangemode": "tozero"},
    )


def _mark_429s(figure: go.Figure, timeline: Timeline, size: int) -> None:
    """429s as crosses in a row along the top of the chart, one per bin that had any
    (the count in its hover)."""
    if not timeline.rate_limited_by_minute:
        return
    bins = _binned(timeline.rate_limited_by_minute, size)
    figure.add_trace(
        go.Scatter(
            x=[_utc(start + size / 2) for start in bins],
            y=[1.0] * len(bins),
            yaxis="y2",
            mode="markers",
            marker={"symbol": "x-thin", "size": 14, "line": {"width": 3, "color": _RATE}},
            customdata=list(bins.values()),
            name="429",
            hovertemplate="%{x|%H:%M} UTC: %{customdata} × 429<extra></extra>",
        )
    )
    # A second axis from 0 to 1, hidden: the crosses sit at its top whatever the bars' scale.
    figure.update_layout(
        yaxis2={"overlaying": "y", "range": [0, 1.04], "visible": False, "fixedrange": True}
    )


def _mark_control(figure: go.Figure, timeline: Timeline) -> None:
    """A pause is a shaded span (until the resume or cancel that ends it); any other
    command a dotted line, named at the top."""
    paused: float | None = None
    for event in timeline.events:
        if event.kind in UNMARKED_KINDS:
            continue
        if event.kind in ("paused", "auto_paused"):
            paused = event.at if paused is None else paused
            continue
        if paused is not None and event.kind in ("resumed", "cancelled"):
            figure.add_vrect(
                x0=_ms(paused),
                x1=_ms(event.at),
                fillcolor="#888888",
                opacity=0.25,
                line_width=0,
                annotation_text="paused",
                annotation_position="top left",
            )
            paused = None
            if event.kind == "resumed":
                continue
        figure.add_vline(
            x=_ms(event.at),
            line={"color": "#555555", "dash": "dot", "width": 1},
            annotation_text=event.what,
            annotation_position="top right",
            annotation_font_size=11,
        )


def _ms(seconds: float) -> float:
    """A time as a date axis takes it as a number: milliseconds since the epoch."""
    return seconds * 1000


def _rates(pairs: list[tuple[int, int]]) -> list[float | None]:
    return [100 * answered / placed if placed else None for placed, answered in pairs]


def _answer_bars(
    labels: list[str], pairs: list[tuple[int, int]], hover: str, axis: str
) -> go.Figure:
    """Answer rates as bars, with the calls and answers behind each in its hover."""
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=_rates(pairs),
            customdata=[[placed, answered] for placed, answered in pairs],
            marker_color=STATE_COLOURS["success"],
            hovertemplate=hover + ": %{y:.0f}% answered "
            "(%{customdata[1]:,} of %{customdata[0]:,} calls)<extra></extra>",
        )
    )
    return _layout(
        figure,
        xaxis={"title": axis, "type": "category"},
        yaxis={"title": "answered (%)", "range": [0, 100]},
    )


def answer_by_hour(data: ReportData) -> go.Figure:
    labels = [f"{hour:02d}:00" for hour in range(24)]
    return _answer_bars(labels, data.by_local_hour, "%{x} local", "callee's local hour")


#: Countries shown one by one; the rest are added up as "other".
_MAX_COUNTRIES = 25


def answer_by_country(data: ReportData) -> go.Figure:
    rows = [
        (region, (placed, answered)) for region, (_, placed, answered) in data.by_country.items()
    ]
    if len(rows) > _MAX_COUNTRIES:
        rest = [pair for _, pair in rows[_MAX_COUNTRIES - 1 :]]
        other = (sum(placed for placed, _ in rest), sum(answered for _, answered in rest))
        rows = [*rows[: _MAX_COUNTRIES - 1], ("other", other)]
    labels = [region for region, _ in rows]
    return _answer_bars(labels, [pair for _, pair in rows], "%{x}", "country (from the number)")


def _contact_bars(labels: list[str], counts: list[int], hover: str, axis: str) -> go.Figure:
    """Contacts per category, as bars."""
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=counts,
            marker_color=_BAR,
            hovertemplate=hover + ": %{y:,} contacts<extra></extra>",
        )
    )
    return _layout(figure, xaxis={"title": axis, "type": "category"}, yaxis={"title": "contacts"})


def attempts(data: ReportData) -> go.Figure:
    labels = [str(n) for n in data.attempts]
    axis = "attempts (calls placed or maybe placed)"
    return _contact_bars(labels, list(data.attempts.values()), "%{x} attempts", axis)


def time_to_final(data: ReportData) -> go.Figure:
    labels = [label for _, label in DURATION_BINS]
    return _contact_bars(labels, data.time_to_final, "%{x}", "first dial to final state")


def charts(data: ReportData) -> list[Chart]:
    """Every chart of the page, in reading order."""
    return [
        ("outcomes", "Outcomes", outcomes(data)),
        ("placements", "Placements per minute", placements(data)),
        ("answer-hour", "Answer rate by the callee's local hour", answer_by_hour(data)),
        ("answer-country", "Answer rate by country", answer_by_country(data)),
        ("attempts", "Attempts per contact", attempts(data)),
        ("time-to-final", "Time from first dial to final state", time_to_final(data)),
    ]
