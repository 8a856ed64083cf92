"""How calls end: the last-digit rule, and seeded probability mixes that reproduce."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from polyout.sandbox import LAST_DIGIT, Outcome, OutcomeMix, SandboxConfig
from polyout.sandbox._outcomes import pick_outcome

from .conftest import StartSandbox
from .harness import AGENTS, PLATFORM, Harness

EXPECTED_BY_DIGIT = {
    **{str(d): ("SUCCESS", "") for d in range(7)},
    "7": ("FAILURE", "no answer"),
    "8": ("FAILURE", "busy"),
    "9": ("FAILURE", "call failed"),
}


async def test_last_digit_rule_decides_every_call(harness: Harness) -> None:
    sids = {digit: await harness.place(AGENTS, "+44207946095" + digit) for digit in "0123456789"}
    harness.sandbox.advance(3600)
    for digit, sid in sids.items():
        body = (await harness.status(AGENTS, sid)).json
        assert (body["status"], body["reason"]) == EXPECTED_BY_DIGIT[digit], digit


async def test_last_digit_is_read_from_the_normalised_number(harness: Harness) -> None:
    # "020 7946 0957" national format ends in 7 as well, but a trailing
    # space or extension must not fool the rule: it reads the E.164 form.
    sid = await harness.place(PLATFORM, "020 7946 0957 ", country_code="GB")
    harness.sandbox.advance(3600)
    assert (await harness.status(PLATFORM, sid)).json == {
        "status": "failure",
        "reason": "no answer",
    }
    assert harness.sandbox.ledger.placements[-1].outcome == "no_answer"


async def outcomes_of_a_run(start: StartSandbox, config: SandboxConfig, calls: int) -> list[str]:
    harness = await start(config)
    for _ in range(calls):
        await harness.place(PLATFORM)
    return [placement.outcome for placement in harness.sandbox.ledger.placements]


async def test_same_seed_same_outcomes_other_seed_other_outcomes(start: StartSandbox) -> None:
    mix = OutcomeMix(completed=0.4, no_answer=0.2, busy=0.2, failed=0.1, cancelled=0.1)
    first = await outcomes_of_a_run(start, SandboxConfig(outcomes=mix, seed=7), 60)
    again = await outcomes_of_a_run(start, SandboxConfig(outcomes=mix, seed=7), 60)
    other = await outcomes_of_a_run(start, SandboxConfig(outcomes=mix, seed=8), 60)
    assert first == again
    assert first != other
    assert set(first) == {outcome.value for outcome in Outcome}


async def test_reset_replays_the_outcomes_from_the_seed(start: StartSandbox) -> None:
    harness = await start(SandboxConfig(seed=3))
    for _ in range(20):
        await harness.place(PLATFORM)
    before = [p.outcome for p in harness.sandbox.ledger.placements]
    assert (await harness.request("POST", "/_sandbox/reset")).status == 200
    for _ in range(20):
        await harness.place(PLATFORM)
    assert [p.outcome for p in harness.sandbox.ledger.placements] == before


async def test_unseeded_sandbox_reports_the_seed_it_picked(start: StartSandbox) -> None:
    harness = await start(SandboxConfig())
    config = (await harness.request("GET", "/_sandbox/config")).json
    assert config["seed"] == harness.sandbox.seed
    assert isinstance(config["seed"], int)


def test_mix_frequencies_follow_the_probabilities() -> None:
    mix = OutcomeMix(completed=0.5, no_answer=0.3, busy=0.2, failed=0.0)
    rng = random.Random(1)
    counts = Counter(pick_outcome(mix, "+442079460950", rng) for _ in range(20_000))
    assert counts[Outcome.FAILED] == counts[Outcome.CANCELLED] == 0
    assert counts[Outcome.COMPLETED] / 20_000 == pytest.approx(0.5, abs=0.02)
    assert counts[Outcome.NO_ANSWER] / 20_000 == pytest.approx(0.3, abs=0.02)
    assert counts[Outcome.BUSY] / 20_000 == pytest.approx(0.2, abs=0.02)


def test_certain_outcome_is_always_drawn() -> None:
    mix = OutcomeMix(completed=0, no_answer=0, busy=1, failed=0)
    rng = random.Random(0)
    assert {pick_outcome(mix, "+442079460950", rng) for _ in range(1000)} == {Outcome.BUSY}


def test_last_digit_rule_ignores_randomness() -> None:
    rng = random.Random(0)
    assert pick_outcome(LAST_DIGIT, "+442079460958", rng) is Outcome.BUSY
    assert rng.random() == random.Random(0).random()  # no draw was consumed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "success=0.7,no_answer=0.15,busy=0.05,failure=0.1",
            OutcomeMix(completed=0.7, no_answer=0.15, busy=0.05, failed=0.1, cancelled=0),
        ),
        ("completed=1", OutcomeMix(completed=1, no_answer=0, busy=0, failed=0)),
        (
            "no-answer=0.5, Busy=0.25,cancelled=0.25",
            OutcomeMix(completed=0, no_answer=0.5, busy=0.25, failed=0, cancelled=0.25),
        ),
    ],
)
def test_mix_parses_both_vocabularies(text: str, expected: OutcomeMix) -> None:
    assert OutcomeMix.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "success=0.5",
        "success=0.5,failure=0.6",
        "great=1",
        "success",
        "success=1,completed=0",
        "busy=x",
    ],
)
def test_bad_mixes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (several distinct messages)
        OutcomeMix.parse(text)


def test_mix_probabilities_must_be_probabilities() -> None:
    with pytest.raises(ValueError, match="probability"):
        OutcomeMix(completed=1.5, no_answer=-0.5, busy=0, failed=0)
