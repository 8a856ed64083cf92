"""The report page: one self-contained HTML file that opens offline in any browser.

Everything is inline: the styles, plotly's JavaScript (once, in the head, shared by
every chart), each chart's figure, and the report's numbers as JSON
(``<script type="application/json" id="report-data">``) for anyone who wants them
as data. Nothing is fetched: no CDN, no web font, no map tiles. Every number a chart
shows is also in a table beneath it, so the page reads without JavaScript.
"""

from __future__ import annotations

import html
import json

from polyout._cli._progress_line import format_duration
from polyout._report._data import ATTENTION_LIMIT, ReportData
from polyout._report._figures import charts
from polyout._report._tables import (
    attention_table,
    chart_numbers,
    history_table,
    settings_table,
    utc_text,
)
from polyout._report._timeline import UNMARKED_KINDS
from polyout._version import __version__

__all__ = ["DATA_ELEMENT_ID", "page"]

#: The id of the script element holding the report's numbers as JSON.
DATA_ELEMENT_ID = "report-data"
_CHART_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    # Drag to zoom and double-click to reset still work; the toolbar only hid the bars.
    "displayModeBar": False,
}

_STYLE = """
:root { --ink: #1b1b1b; --muted: #555; --line: #d8d8d8; --bg: #fff; --panel: #f6f7f9;
  --good: #00734f; --warn: #a04000; --accent: #0061a0; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
header, main, footer { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 20px; }
h1 { font-size: 1.6rem; margin: 0 0 2px; }
h2 { font-size: 1.15rem; margin: 0 0 4px; }
.sub { color: var(--muted); margin: 0 0 14px; }
.badge { display: inline-block; padding: 1px 10px; border-radius: 999px; font-weight: 600;
  font-size: .85rem; vertical-align: middle; margin-left: 8px; border: 2px solid currentColor; }
.badge.done { color: var(--good); } .badge.open { color: var(--accent); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px;
  margin: 0 0 18px; padding: 0; list-style: none; }
.card { background: var(--panel); border-radius: 8px; padding: 10px 14px;
  border-left: 5px solid var(--accent); }
.card.good { border-left-color: var(--good); } .card.warn { border-left-color: var(--warn); }
.card .n { font-size: 1.7rem; font-weight: 700; display: block; line-height: 1.2; }
.card .l { color: var(--muted); font-size: .9rem; }
/* Fixed tracks: a chart is drawn while the page is still parsed, before its neighbours. */
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0 18px; }
@media (max-width: 1000px) { .grid { grid-template-columns: minmax(0, 1fr); } }
section { border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px;
  margin-bottom: 18px; min-width: 0; }
.note { color: var(--muted); font-size: .9rem; margin: 0 0 6px; }
details { margin-top: 6px; } summary { cursor: pointer; color: var(--accent); }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin-top: 6px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
td { white-space: nowrap; }
td.wrap { white-space: normal; overflow-wrap: anywhere; min-width: 14em; }
th { background: var(--panel); } .num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { max-height: 480px; overflow: auto; }
footer { color: var(--muted); font-size: .85rem; padding-bottom: 24px; }
@media print { .modebar { display: none !important; } section { break-inside: avoid; } }
"""

_CHART_NOTES = {
    "outcomes": "Every contact of the campaign, by state.",
    "placements": "Calls the server accepted, per minute, against the configured rate "
    "(dashed). Pauses are shaded, cancels marked, 429s are crosses along the top.",
    "answer-hour": "Share of placed calls answered, by the hour at the callee "
    "(the number's time zone, else the campaign's default). Calls that expired or were "
    "cancelled are left out.",
    "answer-country": "Share of placed calls answered, by the number's country.",
    "attempts": "Calls placed (or maybe placed) per contact; 0 is never dialled.",
    "time-to-final": "From a contact's first dial to its final state, retries included.",
}


def _card(value: str, label: str, kind: str = "") -> str:
    return (
        f'<li class="card {kind}"><span class="n">{html.escape(value)}</span>'
        f'<span class="l">{html.escape(label)}</span></li>'
    )


def _rate_limited_text(data: ReportData) -> str:
    if data.timeline.rate_limited:
        return f"{data.timeline.rate_limited:,}"
    return "none recorded" if data.timeline.recorded else "not recorded by this store"


def _headline(data: ReportData) -> str:
    success = data.states.get("success", 0)
    dialled = sum(n for attempts, n in data.attempts.items() if attempts)
    answered = (
        f"{100 * success / dialled:.0f}% of {dialled:,} dialled" if dialled else "none dialled"
    )
    cards = [
        _card(f"{data.total:,}", "contacts"),
        _card(f"{success:,}", f"answered ({answered})", "good"),
        _card(f"{data.placements:,}", "calls placed"),
        _card(
            f"{data.attention_total:,}",
            "need attention",
            "warn" if data.attention_total else "good",
        ),
    ]
    if data.first_placement is not None and data.last_activity is not None:
        span = max(data.last_activity - data.first_placement, 0.0)
        cards.append(_card(format_duration(span), "first call to last activity"))
        if span > 0:
            achieved = 60 * data.placements / span
            cards.append(_card(f"{achieved:.1f}/min", "achieved rate, pauses included"))
    if data.timeline.rate_limited:
        cards.append(_card(f"{data.timeline.rate_limited:,}", "429s (rate limited)", "warn"))
    else:
        cards.append(_card("–", f"429s: {_rate_limited_text(data)}"))
    return f'<ul class="cards">{"".join(cards)}</ul>'


def _status_badge(data: ReportData) -> str:
    if data.open_contacts:
        return f'<span class="badge open">{data.open_contacts:,} contacts not final</span>'
    return '<span class="badge done">complete</span>'


def _chart_sections(data: ReportData) -> str:
    sections = []
    for chart_id, title, figure in charts(data):
        body = figure.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{chart_id}",
            config=_CHART_CONFIG,
        )
        extra = ""
        if chart_id == "placements" and not data.timeline.rate_limited:
            extra = f'<p class="note"><strong>429s: {_rate_limited_text(data)}.</strong></p>'
        sections.append(
            f'<section aria-labelledby="h-{chart_id}"><h2 id="h-{chart_id}">{html.escape(title)}'
            f'</h2><p class="note">{html.escape(_CHART_NOTES[chart_id])}</p>{extra}{body}'
            f"<details><summary>The numbers</summary><div class=scroll>"
            f"{chart_numbers(data, chart_id)}</div></details></section>"
        )
    return "".join(sections)


def _attention_section(data: ReportData) -> str:
    if not data.attention_total:
        body = '<p class="note">No contact needs attention.</p>'
    else:
        counts = ", ".join(f"{n:,} {state}" for state, n in data.attention_counts.items())
        shown = len(data.attention)
        more = f" The first {shown:,} are listed." if shown < data.attention_total else ""
        body = (
            f'<p class="note">{html.escape(counts)}: unknown and expired calls may have rung '
            f"and their end is not known; failures and invalid numbers were not reached. "
            f"Numbers are masked; the results file (--output) has them in full.{more}</p>"
            f"<div class=scroll>{attention_table(data)}</div>"
        )
    return (
        '<section aria-labelledby="h-attention"><h2 id="h-attention">Contacts that need '
        f"attention ({data.attention_total:,})</h2>{body}</section>"
    )


def _history_section(data: ReportData) -> str:
    timeline = data.timeline
    commands = [e for e in timeline.events if e.kind not in UNMARKED_KINDS]
    if not timeline.recorded:
        body = '<p class="note">This store keeps no campaign log: no pause, resume or cancel.</p>'
    else:
        never = "" if commands else '<p class="note">Never paused, resumed or cancelled.</p>'
        body = never + (history_table(timeline) if timeline.events else "")
    return (
        '<section aria-labelledby="h-history"><h2 id="h-history">History: runs, pauses, '
        f"resumes and cancels</h2>{body}</section>"
    )


def _data_json(data: ReportData) -> str:
    # "</" inside a script element would end it early: JSON lets it be written "<\/".
    return json.dumps(data.to_json(), ensure_ascii=False, default=str).replace("</", "<\\/")


def page(data: ReportData, plotly_js: str) -> str:
    """The whole page; ``plotly_js`` is plotly's bundle (``plotly.offline.get_plotlyjs()``)."""
    name = html.escape(data.name)
    api = html.escape(str(data.connection.get("api") or data.settings.get("api") or "?"))
    where = f"Store {html.escape(data.where)} · " if data.where else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="polyout {__version__}">
<title>Campaign {name}: polyout report</title>
<style>{_STYLE}</style>
<script>{plotly_js}</script>
</head><body>
<header><h1>Campaign {name}{_status_badge(data)}</h1>
<p class="sub">{where}Report generated {utc_text(data.generated_at)} · API {api} ·
first call {utc_text(data.first_placement)} · last activity {utc_text(data.last_activity)}</p>
{_headline(data)}
<noscript><p class="note">Charts need JavaScript; every number is in the tables under
them.</p></noscript></header>
<main><div class="grid">{_chart_sections(data)}</div>
{_attention_section(data)}
{_history_section(data)}
<section aria-labelledby="h-settings"><h2 id="h-settings">Settings</h2>
<p class="note">As stored with the campaign; no key is ever stored.</p>
{settings_table(data)}</section></main>
<footer>polyout {__version__} · self-contained: this file fetches nothing.
At most {ATTENTION_LIMIT:,} contacts are listed by name.</footer>
<script type="application/json" id="{DATA_ELEMENT_ID}">{_data_json(data)}</script>
</body></html>
"""
