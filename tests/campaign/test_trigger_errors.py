"""What a failed trigger means: the pure rule, and a campaign against an off-script server.

Issue 17 item 8: a status the docs do not list (a 301 from an http URL, a 405, a 418)
once became a final ``failure`` for every contact in turn. An answer that is not about
the contact stops the run, resumable, with the status named.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import polyout
import polyout.campaign
from polyout import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    CampaignError,
    ClientClosedError,
    Contact,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    TriggerOutcomeUnknown,
)
from polyout._campaign._trigger_errors import (
    REFUSALS_BEFORE_STOP,
    Verdict,
    classify_trigger_error,
    refusals_stop_campaign,
)

from ..client.servers import Reply, scripted_api
from .helpers import AGENT_ID, SCALE, contacts


def _status(exc: type[APIStatusError], code: int, **extra: object) -> APIStatusError:
    return exc(code, message=f"HTTP {code}", **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (TriggerOutcomeUnknown("cut after sending", masked_number="+1212***0"), Verdict.UNKNOWN),
        (RuntimeError("a bug between send and answer"), Verdict.UNKNOWN),
        (TransportError("connection refused"), Verdict.NOT_PLACED),
        (_status(RateLimitError, 429), Verdict.NOT_PLACED),
        (_status(ServerError, 502), Verdict.NOT_PLACED),
        (_status(BadRequestError, 400), Verdict.REFUSED),
        (_status(AuthenticationError, 401), Verdict.STOP),
        (_status(PermissionDeniedError, 403), Verdict.STOP),
        (_status(NotFoundError, 404), Verdict.STOP),
        (ClientClosedError("closed"), Verdict.STOP),
        (_status(APIStatusError, 301), Verdict.STOP),
        (_status(APIStatusError, 405), Verdict.STOP),
        (_status(APIStatusError, 418), Verdict.STOP),
        (_status(APIStatusError, 409), Verdict.STOP),
    ],
)
def test_each_trigger_error_has_one_verdict(exc: BaseException, verdict: Verdict) -> None:
    assert classify_trigger_error(exc).verdict is verdict


@pytest.mark.parametrize("code", [301, 405, 418, 422])
def test_an_undocumented_status_stops_naming_it(code: int) -> None:
    why = classify_trigger_error(_status(APIStatusError, code)).why
    assert f"HTTP {code}" in why
    assert "resume" in why


def test_only_server_failures_count_towards_the_breaker() -> None:
    assert classify_trigger_error(_status(ServerError, 500)).server_down
    assert classify_trigger_error(TransportError("reset")).server_down
    assert not classify_trigger_error(_status(RateLimitError, 429)).server_down


def test_a_429_carries_its_retry_after() -> None:
    decided = classify_trigger_error(_status(RateLimitError, 429, retry_after=7.0))
    assert decided.retry_after == 7.0


def test_refusals_in_a_row_stop_the_campaign_at_the_threshold() -> None:
    assert not refusals_stop_campaign(REFUSALS_BEFORE_STOP - 1)
    assert refusals_stop_campaign(REFUSALS_BEFORE_STOP)


@pytest.mark.parametrize("code", [301, 405, 418])
async def test_an_undocumented_trigger_status_stops_the_run_resumably(
    tmp_path: Path, code: int
) -> None:
    people: list[Contact] = contacts(20)
    journal = tmp_path / "journal.db"
    async with scripted_api() as api:
        api.default = Reply(code, {"error": "off script"}, {"Location": "https://127.0.0.1:9/"})
        client = polyout.Client("agents", api_key="k", base_url=api.base_url, agent_id=AGENT_ID)
        async with client:
            campaign = polyout.Campaign(
                client,
                people,
                journal=journal,
                rate=200.0,
                clock=polyout.campaign.ScaledClock(scale=SCALE),
            )
            with pytest.raises(CampaignError, match=f"HTTP {code}"):
                await asyncio.wait_for(campaign.run(), 10)
            triggers = [seen for seen in api.seen if seen.method == "POST"]
            # Stopped at the first answer: only triggers already on their way went out,
            # and none of them made its contact final.
            assert len(triggers) < len(people) // 2, len(triggers)
            results = {r.contact_id: r.state for r in polyout.iter_results(journal)}
            assert set(results.values()) == {"scheduled"}, results
            # Resumable: the journal is accepted, every contact still to dial.
            polyout.Campaign.resume(client, journal, contacts=people)
