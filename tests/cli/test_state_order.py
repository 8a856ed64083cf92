"""The CLI shows every state a contact can be in, once each, in the state machine's order."""

from __future__ import annotations

from polyout._campaign._states import DISPLAY_ORDER, FINAL, ContactState
from polyout._cli._render import FINAL_ORDER, OPEN_ORDER


def test_display_order_covers_every_final_state_once() -> None:
    assert len(FINAL_ORDER) == len(set(FINAL_ORDER))
    assert set(FINAL_ORDER) == FINAL


def test_the_cli_lists_states_in_the_state_machines_order() -> None:
    assert set(OPEN_ORDER) == set(ContactState) - FINAL
    # Finals and open states each keep the order _states gives them.
    for shown in (FINAL_ORDER, OPEN_ORDER):
        assert list(shown) == [state for state in DISPLAY_ORDER if state in shown]
