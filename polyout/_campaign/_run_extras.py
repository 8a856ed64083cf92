"""What a run adds to the engine beyond its own parts, gathered in one place.

Each capability contributes admissions (checks before each intent) and companions
(tasks beside the run): the contact policy, live control, the webhooks and the
pre-dial hook, and a worker's life beside others (heartbeat, reaper, the account's
shared pacer). Their order is the order of the checks: the control watch first (a
pause wins over everything), then the policy, then the operator's hook, asked only
about a contact every rule allows.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from polyout._campaign._admission import Admission
from polyout._campaign._auto_pause import AutoPauseRules
from polyout._campaign._companions import Companion
from polyout._campaign._config import CampaignConfig
from polyout._campaign._control_parts import control_parts
from polyout._campaign._opening import Place
from polyout._campaign._placer import Placer
from polyout._campaign._policy_wiring import policy_parts
from polyout._campaign._shared_rate import worker_parts
from polyout._campaign._store import StoredCampaign
from polyout._campaign._windows import parse_window
from polyout._pacing import Pacer
from polyout._webhooks import HookParts

__all__ = ["RunExtras", "run_extras"]


@attrs.frozen
class RunExtras:
    admissions: list[Admission]
    companions: list[Companion]
    pacer: Pacer | None
    """The account's shared pacer (PostgreSQL), or None for the engine's own."""


async def run_extras(
    *,
    config: CampaignConfig,
    stored: StoredCampaign,
    place: Place,
    client: Placer,
    suppressed: frozenset[str],
    phase: Callable[[], str],
    control: tuple[AutoPauseRules | None, int | None],
    hooks: HookParts,
    new: bool,
    name: str,
) -> RunExtras:
    """The admissions, companions and pacer of one run of ``stored``."""
    admissions, companions = policy_parts(
        config.policy, parse_window(config.window), stored, suppressed=suppressed, phase=phase
    )
    admissions, companions = control_parts(admissions, companions, place.store, *control)
    await hooks.open(stored, new=new, name=name)
    admissions += hooks.admissions(name)
    companions += hooks.companions()
    life = worker_parts(place, stored, client, config.rate)
    return RunExtras(admissions, [*companions, *life.companions], life.pacer)
