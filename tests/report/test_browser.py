"""The report in a real browser: Debian's chromium, headless, offline, as root.

The page must load with no script error, draw its six charts (plotly's ``.main-svg``
in each chart's element), fetch nothing but itself, and be kept as a screenshot
(``report-screenshot.png`` under the test's tmp dir; ``POLYOUT_UPDATE_SCREENSHOT=1``
also copies it to ``docs/report-screenshot.png``, the README's picture).
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import struct
from pathlib import Path

import plotly.offline  # type: ignore[import-untyped]

from polyout._report._html import page

from .browser import browser, find_chromium
from .showcase import START, showcase_report

DOCS_SCREENSHOT = Path(__file__).parents[2] / "docs" / "report-screenshot.png"
CHARTS = ("outcomes", "placements", "answer-hour", "answer-country", "attempts", "time-to-final")
WIDTH = 1280


async def _showcase_page(folder: Path) -> str:
    data = await showcase_report(folder, now=START.timestamp() + 86400)
    return page(data, plotly.offline.get_plotlyjs())


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def test_the_page_loads_without_errors_and_draws_every_chart(tmp_path: Path) -> None:
    find_chromium()  # installs, skips or fails before the campaign is built
    report = tmp_path / "report.html"
    await asyncio.to_thread(report.write_text, await _showcase_page(tmp_path), encoding="utf-8")
    async with browser(tmp_path / "chromium") as chromium:
        tab = await chromium.new_page()
        await tab.send(
            "Emulation.setDeviceMetricsOverride",
            width=WIDTH,
            height=900,
            deviceScaleFactor=1,
            mobile=False,
        )
        await tab.send("Page.navigate", url=report.as_uri())
        await tab.wait_for("Page.loadEventFired")
        drawn: dict[str, int] = {}
        for _ in range(200):  # plotly draws as the page parses; at most a few frames more
            drawn = await tab.evaluate(
                "Object.fromEntries([...document.querySelectorAll('.js-plotly-plot')]"
                ".map(d => [d.id, d.querySelectorAll('.main-svg').length]))"
            )
            if len(drawn) == len(CHARTS) and all(drawn.values()):
                break
            await asyncio.sleep(0.05)
        bars = await tab.evaluate("document.querySelectorAll('#chart-outcomes .point').length")
        states = await tab.evaluate(
            "Object.keys(JSON.parse(document.getElementById('report-data').textContent).states)"
        )
        headline = await tab.evaluate("document.querySelector('.cards').innerText")
        height = await tab.evaluate("document.documentElement.scrollHeight")
        shot = await tab.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1},
        )
        # Without JavaScript: no chart, but every table and the note that says so.
        plain = await chromium.new_page()
        await plain.send("Emulation.setScriptExecutionDisabled", value=True)
        await plain.send("Page.navigate", url=report.as_uri())
        await plain.wait_for("Page.loadEventFired")
        unscripted = await plain.evaluate(
            "[document.querySelectorAll('.main-svg').length,"
            " document.querySelectorAll('table').length, document.body.innerText]"
        )

    assert tab.errors() == []
    assert drawn == {f"chart-{chart}": drawn[f"chart-{chart}"] for chart in CHARTS}
    assert all(count >= 1 for count in drawn.values()), drawn
    assert bars == len(states) >= 4  # one bar per state the campaign's contacts are in
    assert "240\ncontacts" in headline
    svgs, tables, text = unscripted
    assert svgs == 0
    assert tables == len(CHARTS) + 3  # each chart's numbers, attention, history, settings
    assert "Charts need JavaScript" in text
    assert "Contacts that need attention" in text
    assert plain.errors() == []
    outside = [url for url in tab.requested() if not url.startswith(("file:", "data:"))]
    assert outside == [], "the page fetched something"

    png = base64.b64decode(shot["data"])
    assert _png_size(png) == (WIDTH, height)
    screenshot = tmp_path / "report-screenshot.png"
    screenshot.write_bytes(png)
    if os.environ.get("POLYOUT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)
