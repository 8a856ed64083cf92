"""Campaign settings that cannot work are refused by name, before anything is created.

Issue 17 items 28 and 12: ``rate=0``, ``window="9-5"``, ``max_attempts=0`` or a negative
delay raised a plain ValueError outside polyout's tree, and ``retry_delay=1e12`` (or
infinity) crashed a running campaign with "year out of range".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import polyout

from .helpers import AGENT_ID, contacts

BAD_SETTINGS: list[tuple[str, Any]] = [
    ("rate", 0),
    ("rate", -1.0),
    ("rate", float("nan")),
    ("rate", "fast"),
    ("concurrency", 0),
    ("concurrency", True),
    ("max_attempts", 0),
    ("max_attempts", 2.5),
    ("retry_delay", -1.0),
    ("retry_delay", 1e12),
    ("retry_delay", float("inf")),
    ("window", "9-5"),
    ("window", 9),
    ("default_timezone", "Mars/Olympus"),
    ("poll_deadline", 0),
    ("poll_interval", (5.0, 2.0)),
    ("poll_interval", 0),
    ("poll_rate", 0),
    ("stop_grace", -5),
    ("stop_grace", float("inf")),
    ("max_not_placed", 0),
    ("outage_limit", 1e12),
]


@pytest.mark.parametrize(("setting", "value"), BAD_SETTINGS)
def test_a_setting_that_cannot_work_is_a_configuration_error(
    tmp_path: Path, setting: str, value: Any
) -> None:
    journal = tmp_path / "journal.db"
    client = polyout.Client("agents", api_key="k", base_url="http://127.0.0.1:9", agent_id=AGENT_ID)
    with pytest.raises(polyout.ConfigurationError) as raised:
        polyout.Campaign(client, contacts(1), journal=journal, **{setting: value})
    assert raised.value.setting == setting
    assert isinstance(raised.value, polyout.PolyOutError)
    assert not journal.exists()  # refused before the journal was created


def test_a_year_is_the_longest_delay_accepted(tmp_path: Path) -> None:
    client = polyout.Client("agents", api_key="k", base_url="http://127.0.0.1:9", agent_id=AGENT_ID)
    year = 366 * 86400.0
    polyout.Campaign(client, contacts(1), journal=tmp_path / "j.db", retry_delay=year)
    with pytest.raises(polyout.ConfigurationError, match="retry_delay"):
        polyout.Campaign(client, contacts(1), journal=tmp_path / "k.db", retry_delay=year + 1)
