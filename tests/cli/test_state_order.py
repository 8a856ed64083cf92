"""The CLI shows every state the journal can end a contact in, each exactly once."""

from __future__ import annotations

from polyout._campaign._journal import FINAL_STATES
from polyout._cli._render import FINAL_ORDER


def test_display_order_covers_every_final_state_once() -> None:
    assert len(FINAL_ORDER) == len(set(FINAL_ORDER))
    assert set(FINAL_ORDER) == FINAL_STATES
