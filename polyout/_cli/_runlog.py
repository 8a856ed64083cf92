"""A line per ``polyout campaign run``/``resume``, next to the journal: what each run saw.

The journal holds every contact's story, but not what only the run itself observed:
the 429s the client absorbed before a trigger got through, and the time actually
spent running (not the pauses between runs). The CLI appends one JSON line per run
to ``JOURNAL.runs.jsonl`` so that ``campaign report`` can show them; without the file
the report simply leaves those figures out.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import attrs

from polyout._campaign._events import CampaignStats

__all__ = ["RunRecord", "read_runs", "record_run", "runs_path"]


@attrs.frozen
class RunRecord:
    command: str
    """``run`` or ``resume``."""
    started_at: str
    ended_at: str
    ended: str
    """``complete``, ``stopped`` (graceful), ``interrupted`` (at once) or ``failed``."""
    triggers: int
    placed: int
    rate_limited: int
    elapsed: float


def runs_path(journal: str | os.PathLike[str]) -> Path:
    path = Path(journal)
    return path.with_name(path.name + ".runs.jsonl")


def record_run(
    journal: str | os.PathLike[str],
    *,
    command: str,
    started_at: datetime,
    ended: str,
    stats: CampaignStats,
) -> None:
    record = RunRecord(
        command=command,
        started_at=started_at.isoformat(),
        ended_at=datetime.now(timezone.utc).isoformat(),
        ended=ended,
        triggers=stats.triggers,
        placed=stats.placed,
        rate_limited=stats.rate_limited,
        elapsed=round(stats.elapsed, 3),
    )
    path = runs_path(journal)
    try:
        with path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(attrs.asdict(record)) + "\n")
    except OSError as exc:
        # The journal holds every result; this file only adds the run's own figures to
        # the report, and a full disk must not hide the summary and the resume command.
        print(
            f"polyout: could not record this run in {path} ({exc.strerror or exc}): "
            "the report will leave its figures out",
            file=sys.stderr,
            flush=True,
        )


def read_runs(journal: str | os.PathLike[str]) -> list[RunRecord]:
    """Every run recorded, oldest first; lines that do not parse are skipped."""
    path = runs_path(journal)
    if not path.is_file():
        return []
    return list(_parse(path))


def _parse(path: Path) -> Iterator[RunRecord]:
    fields = {field.name for field in attrs.fields(RunRecord)}
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                value = json.loads(line)
                if isinstance(value, dict) and fields <= value.keys():
                    yield RunRecord(**{name: value[name] for name in fields})
            except (ValueError, TypeError):
                continue  # a line cut by a crash: the others still count
