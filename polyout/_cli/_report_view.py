"""Tables and JSON for the end of a run, ``campaign report`` and ``campaign validate``.

Contacts are shown by row, id and masked number only: the full numbers live in the
journal and in the results file the operator asks for, nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import RenderableType
from rich.table import Table

from polyout._campaign._config import CampaignConfig
from polyout._campaign._events import CampaignStats
from polyout._campaign._preflight import Preflight
from polyout._campaign._summary import ResultsSummary
from polyout._cli._durations import duration_text
from polyout._cli._progress_line import (
    FINAL_ORDER,
    OPEN_ORDER,
    calls_per_second,
    format_duration,
    plural,
)
from polyout._cli._render import key_value_table, table
from polyout._cli._runlog import RunRecord
from polyout._phone import mask_number

__all__ = [
    "preflight_json",
    "preflight_renderables",
    "report_json",
    "report_renderables",
    "run_renderables",
]


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "-"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "-"


def _states_table(summary: ResultsSummary) -> Table:
    known = [*FINAL_ORDER, *OPEN_ORDER]
    order = known + sorted(set(summary.states) - set(known))
    rows = [
        (state, summary.states[state], _share(summary.states[state], summary.total))
        for state in order
        if summary.states.get(state)
    ]
    rows.append(("total", summary.total, ""))
    return table("Contacts by state", ("state", "contacts", "share"), rows)


def _attention_table(summary: ResultsSummary) -> Table | None:
    if not summary.attention_count:
        return None
    rows = [
        (
            result.row if result.row is not None else "-",
            result.contact_id or "-",
            mask_number(result.to_number) if result.to_number else "-",
            result.state,
            result.call_sid or "-",
            result.reason or result.error or "-",
        )
        for result in summary.attention
    ]
    shown = len(summary.attention)
    more = (
        f" (first {shown} of {summary.attention_count})" if shown < summary.attention_count else ""
    )
    return table(
        f"Need attention: the call may have rung, its end is not known{more}",
        ("row", "id", "number", "state", "call sid", "why"),
        rows,
    )


def _activity_rows(summary: ResultsSummary) -> list[tuple[str, object]]:
    attempts = ", ".join(
        f"{count} with {n}" for n, count in summary.contacts_by_attempts.items() if n
    )
    rate = summary.achieved_rate
    rows: list[tuple[str, object]] = [
        ("calls placed", f"{summary.attempts}" + (f" ({attempts})" if attempts else "")),
        ("first call", _when(summary.first_attempt_at)),
        ("last activity", _when(summary.last_activity_at)),
        ("span", format_duration(summary.span)),
        (
            "first call to final",
            f"{format_duration(summary.mean_time_to_final)} on average, "
            f"{format_duration(summary.longest_time_to_final)} at most",
        ),
        ("achieved rate", f"{calls_per_second(rate, '.2f')} over the span" if rate else "-"),
    ]
    if summary.failed:
        rows.append(
            ("not reached", f"{summary.failed} after every attempt allowed (--output lists them)")
        )
    return rows


def run_renderables(summary: ResultsSummary, stats: CampaignStats) -> list[RenderableType]:
    """What the operator sees when a run or resume ends."""
    this_run = key_value_table(
        "This run",
        [
            ("calls placed", stats.placed),
            ("retries scheduled", stats.retries),
            ("triggers not placed", stats.not_placed),
            ("rate limited (429)", stats.rate_limited),
            ("achieved rate", calls_per_second(_run_rate(stats), ".2f")),
            ("elapsed", format_duration(stats.elapsed)),
        ],
    )
    attention = _attention_table(summary)
    return [_states_table(summary), this_run, *([attention] if attention else [])]


def _run_rate(stats: CampaignStats) -> float:
    return stats.triggers / stats.elapsed if stats.elapsed > 0 else 0.0


def report_renderables(
    summary: ResultsSummary, config: CampaignConfig, runs: Sequence[RunRecord]
) -> list[RenderableType]:
    """The whole ``campaign report``."""
    settings = [
        ("contacts file", config.source or "-"),
        ("API", f"{config.api} ({config.environment})" if config.environment else config.api),
        ("rate", f"{calls_per_second(config.rate, 'g')}, {config.concurrency} in flight at most"),
        ("attempts", f"{config.max_attempts} at most, {duration_text(config.retry_delay)} apart"),
        ("window", config.window or "any time"),
    ]
    activity = _activity_rows(summary)
    if runs:
        active = sum(run.elapsed for run in runs)
        triggers = sum(run.triggers for run in runs)
        ended = ", ".join(run.ended for run in runs)
        activity += [
            ("runs", f"{len(runs)} ({ended})"),
            ("time running", format_duration(active)),
            ("rate while running", calls_per_second(triggers / active, ".2f") if active else "-"),
            ("rate limited (429)", sum(run.rate_limited for run in runs)),
        ]
    else:
        activity.append(("rate limited (429)", "not recorded (no runs file next to the journal)"))
    attention = _attention_table(summary)
    return [
        key_value_table("Campaign", settings),
        _states_table(summary),
        key_value_table("Activity", activity),
        *([attention] if attention else []),
    ]


def report_json(
    summary: ResultsSummary, config: CampaignConfig, runs: Sequence[RunRecord]
) -> dict[str, Any]:
    return {
        "config": config.to_json(),
        "total": summary.total,
        "states": summary.states,
        "complete": summary.complete,
        "needs_attention": summary.needs_attention,
        "attempts": summary.attempts,
        "contacts_by_attempts": {str(n): c for n, c in summary.contacts_by_attempts.items()},
        "first_attempt_at": _iso(summary.first_attempt_at),
        "last_activity_at": _iso(summary.last_activity_at),
        "span_seconds": summary.span,
        "mean_time_to_final_seconds": summary.mean_time_to_final,
        "longest_time_to_final_seconds": summary.longest_time_to_final,
        "achieved_rate": summary.achieved_rate,
        "rate_limited": sum(run.rate_limited for run in runs) if runs else None,
        "runs": [
            {"command": run.command, "ended": run.ended, "elapsed": run.elapsed} for run in runs
        ],
        "attention": [
            {
                "row": result.row,
                "contact_id": result.contact_id,
                "to_number": mask_number(result.to_number) if result.to_number else None,
                "state": result.state,
                "call_sid": result.call_sid,
                "reason": result.reason or result.error,
            }
            for result in summary.attention
        ],
        "attention_count": summary.attention_count,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def preflight_renderables(
    preflight: Preflight, source: str, held: tuple[str, int] | None = None
) -> list[RenderableType]:
    """The whole ``campaign validate`` report; ``held``: a campaign, and how many of the
    file's numbers it holds already."""
    counts: list[tuple[str, object]] = [
        ("contacts", preflight.total),
        ("valid (would be dialled)", preflight.valid),
        ("invalid", preflight.invalid),
        ("duplicates", preflight.duplicates),
        ("suppressed", preflight.suppressed),
    ]
    if preflight.window is not None:
        waiting = f"{preflight.closed_now} of the valid"
        if preflight.next_opening is not None:
            waiting += f" (first opening {_when(preflight.next_opening)})"
        counts.append((f"outside {preflight.window} now", waiting))
    estimate = (
        f"{format_duration(preflight.dialling_seconds)} of dialling at "
        f"{calls_per_second(preflight.rate, 'g')} "
        "(first attempts; retries come --retry-delay later)"
    )
    if preflight.calling_days and preflight.calling_days > 1:
        estimate += f", over {plural(preflight.calling_days, 'day')} of the calling window"
    counts.append(("estimated duration", estimate))
    countries = ", ".join(f"{code} {count}" for code, count in preflight.countries.items())
    counts.append(("countries", countries or "-"))
    if held is not None:
        counts.append((f"already in {held[0]}", held[1]))
    renderables: list[RenderableType] = [key_value_table(f"Pre-launch check of {source}", counts)]
    if preflight.problems:
        excluded = preflight.invalid + preflight.duplicates + preflight.suppressed
        shown = len(preflight.problems)
        more = f" (first {shown} of {excluded})" if shown < excluded else ""
        renderables.append(
            table(
                f"Rows the campaign would not dial{more}",
                ("row", "id", "state", "reason"),
                (
                    (p.row if p.row is not None else "-", p.contact_id, p.state, p.reason)
                    for p in preflight.problems
                ),
            )
        )
    return renderables


def preflight_json(preflight: Preflight, source: str) -> dict[str, Any]:
    return {
        "contacts_file": source,
        "total": preflight.total,
        "valid": preflight.valid,
        "invalid": preflight.invalid,
        "duplicates": preflight.duplicates,
        "suppressed": preflight.suppressed,
        "window": str(preflight.window) if preflight.window else None,
        "outside_window_now": preflight.closed_now,
        "next_opening": _iso(preflight.next_opening),
        "checked_at": _iso(preflight.checked_at),
        "rate": preflight.rate,
        "estimated_dialling_seconds": preflight.dialling_seconds,
        "calling_days": preflight.calling_days,
        "countries": preflight.countries,
        "problems": [
            {"row": p.row, "contact_id": p.contact_id, "state": p.state, "reason": p.reason}
            for p in preflight.problems
        ],
    }
