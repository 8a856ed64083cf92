"""``polyout.testing`` is public: its names are pinned, and each one says what it is."""

from __future__ import annotations

import inspect

import polyout.testing

PUBLIC = {
    # virtual time
    "VirtualClock",
    # the in-process API and its ledger
    "FakePlacer",
    "FakeLedger",
    "Placement",
    "SendRecord",
    # how calls end
    "LAST_DIGIT",
    "DEFAULT_MIX",
    "OutcomeRule",
    "Duration",
    "last_digit_outcome",
    # faults, what rules see, and rules
    "Fault",
    "RateLimited",
    "ServerFailure",
    "Refused",
    "NoConnection",
    "AnswerLost",
    "Send",
    "Poll",
    "TriggerRule",
    "StatusRule",
    "scripted",
    "by_number",
    "rate_limit_storm",
    "fault_mix",
    "first_of",
}


def test_the_exported_names_are_pinned() -> None:
    assert set(polyout.testing.__all__) == PUBLIC
    assert all(hasattr(polyout.testing, name) for name in PUBLIC)


def test_every_class_and_function_says_what_it_is() -> None:
    undocumented = [
        name
        for name in PUBLIC
        if (inspect.isclass(thing := getattr(polyout.testing, name)) or inspect.isfunction(thing))
        and not inspect.getdoc(thing)
    ]
    assert undocumented == []
