"""Memory and validation: a generated contact CSV read, validated, planned and journaled.

Three parts, each side in a fresh interpreter so its peak RSS is its own:

* The pipeline: a campaign's feeder (``Feeder``: streaming reader, Planner, the
  SQLite store with batched commits) over a generated CSV of N contacts (300,000
  by default; 1% invalid numbers, 1% repeated ones). Peak RSS must stay under 150 MB
  and flat in N (compared with N/10). The baseline is what a user would write:
  ``list(csv.DictReader(f))``, then phonenumbers on every row and a set for duplicates.
* Validation throughput of ``polyout.build_request`` for a one-country list and for a
  list cycling through 200 countries, with the pattern cache polyout turns on and
  without it (phonenumbers' default, where the ``re`` module's 512-entry cache thrashes).

    python benchmarks/bench_memory.py [--quick] [--smoke] [--contacts N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import _harness as h
import phonenumbers
import phonenumbers.re_util

import polyout

RSS_LIMIT_MB = 150.0
FLAT_LIMIT = 1.2
MULTI_COUNTRY_FLOOR = 0.5


# -- inputs --------------------------------------------------------------------------------
def write_contacts(path: Path, count: int) -> None:
    """N contacts with distinct UK mobile numbers; every 100th invalid, every 100th repeated."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "phone", "first_name"])
        for n in range(count):
            if n % 100 == 37:
                phone = f"+4474{n:04d}"  # too short
            elif n % 100 == 71:
                phone = f"+4474{n - 1:08d}"  # the previous contact's number
            else:
                phone = f"+4474{n:08d}"
            writer.writerow([f"c{n}", phone, "Ada"])


def one_country(count: int) -> list[str]:
    return [f"+4474{n:08d}" for n in range(count)]


def many_countries(regions: int, count: int) -> list[str]:
    """``count`` valid numbers, each from the next of ``regions`` regions in turn."""
    pools: list[list[str]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        pool = _variants(region)
        if pool:
            pools.append(pool)
        if len(pools) == regions:
            break
    cycle = itertools.cycle(zip(*(itertools.cycle(pool) for pool in pools), strict=False))
    return list(itertools.islice(itertools.chain.from_iterable(cycle), count))


def _variants(region: str) -> list[str]:
    """Valid numbers of ``region``: its example numbers with the last digit changed."""
    found = []
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is None:
            continue
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for digit in "0123456789":
            number = e164[:-1] + digit
            if phonenumbers.is_valid_number(phonenumbers.parse(number)):
                found.append(number)
    return found


# -- workers (each runs in its own interpreter) --------------------------------------------
def pipeline_worker(contacts: Path, journal: Path) -> dict[str, Any]:
    from polyout._campaign._clock import SystemClock
    from polyout._campaign._events import EventBus
    from polyout._campaign._feeder import Feeder
    from polyout._campaign._recorder import Progress, Recorder
    from polyout._campaign._sqlite_store import SQLiteStore
    from polyout._campaign._store import CampaignDefinition

    async def feed() -> int:
        # The feeder alone, into a journal, as a run starts it: nothing is dialled.
        definition = CampaignDefinition(
            settings={}, connection={}, suppressed=frozenset(), created_at=time.time()
        )
        store, stored = await SQLiteStore.create_path(journal, definition)
        recorder = Recorder(stored, SystemClock(), EventBus(), Progress({}, 0))
        feeder = Feeder(
            recorder,
            contacts,
            label=str(journal),
            window=None,
            default_timezone=None,
            default_country=None,
            suppressed=frozenset(),
            stopping=lambda: False,
        )
        try:
            await feeder.run()
        finally:
            await store.aclose()
        return recorder.progress.total

    with h.measured() as spent:
        total = asyncio.run(feed())
    return {"count": total, "seconds": spent.wall, "cpu": spent.cpu, "rss": h.peak_rss_mb()}


def naive_worker(contacts: Path) -> dict[str, Any]:
    with h.measured() as spent:
        with contacts.open(encoding="utf-8", newline="") as stream:
            rows = list(csv.DictReader(stream))
        seen: set[str] = set()
        planned = []
        for row in rows:
            try:
                parsed = phonenumbers.parse(row["phone"], None)
            except phonenumbers.NumberParseException:
                continue
            if not phonenumbers.is_valid_number(parsed):
                continue
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in seen:
                seen.add(e164)
                planned.append((row["id"], e164, row))
    return {"count": len(rows), "seconds": spent.wall, "cpu": spent.cpu, "rss": h.peak_rss_mb()}


def validate_worker(regions: int, count: int, cache: bool) -> dict[str, Any]:
    numbers = one_country(count) if regions == 1 else many_countries(regions, count)
    if not cache:
        # phonenumbers' own default: every pattern compiled through re's 512-entry cache.
        vars(phonenumbers.re_util)["_COMPILED_PATTERNS"] = None
    for number in numbers[: min(len(numbers), 2 * regions)]:
        polyout.build_request(number)  # load each region's metadata before timing
    with h.measured() as spent:
        for number in numbers:
            polyout.build_request(number)
    return {"per_second": len(numbers) / spent.cpu}


def run_as_worker(args: argparse.Namespace) -> int:
    if args.worker == "pipeline":
        h.emit_result(pipeline_worker(Path(args.input), Path(args.journal)))
    elif args.worker == "naive":
        h.emit_result(naive_worker(Path(args.input)))
    else:
        h.emit_result(validate_worker(args.regions, args.count, args.cache == "on"))
    return 0


# -- the parent: runs the workers and builds the rows --------------------------------------
def worker(*args: str) -> dict[str, Any]:
    return h.run_worker(__file__, "--worker", *args)


def pipeline_rows(count: int, workdir: Path) -> list[h.Row]:
    sizes = {"full": count, "tenth": max(count // 10, 1)}
    files = {}
    for name, size in sizes.items():
        files[name] = workdir / f"contacts-{size}.csv"
        write_contacts(files[name], size)
    ours = worker("pipeline", "--input", str(files["full"]), "--journal", str(workdir / "a.db"))
    small = worker("pipeline", "--input", str(files["tenth"]), "--journal", str(workdir / "b.db"))
    naive = worker("naive", "--input", str(files["full"]))
    label = f"{count:,}"
    flat = ours["rss"] / small["rss"]
    return [
        h.Row(
            f"4. peak RSS, {label} contacts validated+planned+journaled",
            ours["rss"],
            naive["rss"],
            "MB",
            target=f"< {RSS_LIMIT_MB:.0f} MB",
            met=ours["rss"] < RSS_LIMIT_MB,
            baseline_name="list(DictReader)+phonenumbers",
        ),
        h.Row(
            f"4. peak RSS flat in N ({label} vs {sizes['tenth']:,} contacts)",
            ours["rss"],
            small["rss"],
            "MB",
            target=f"<= {FLAT_LIMIT:.1f}x",
            met=h.at_most(flat, FLAT_LIMIT),
            baseline_name=f"N={sizes['tenth']:,}",
        ),
        h.Row(
            f"4. throughput, {label} contacts validated+planned+journaled",
            ours["count"] / ours["seconds"],
            naive["count"] / naive["seconds"],
            "/s",
            baseline_name="list(DictReader)+phonenumbers",
        ),
    ]


def validation_rows(count: int, slow_count: int, repeats: int) -> list[h.Row]:
    configs = {
        (1, "on"): count,
        (200, "on"): count,
        (1, "off"): count,
        (200, "off"): slow_count,  # thrashing: ~20x slower, fewer numbers suffice
    }
    rates: dict[tuple[int, str], list[float]] = {key: [] for key in configs}
    for repeat in range(repeats):
        for regions, cache in configs if repeat % 2 == 0 else list(configs)[::-1]:
            size = configs[regions, cache]
            got = worker(
                "validate", "--regions", str(regions), "--count", str(size), "--cache", cache
            )
            rates[regions, cache].append(got["per_second"])
    rate = {key: h.median(values) for key, values in rates.items()}
    ratio = rate[200, "on"] / rate[1, "on"]
    return [
        h.Row(
            "4. validation, one country (build_request)",
            rate[1, "on"],
            rate[1, "off"],
            "/s",
            baseline_name="no pattern cache",
        ),
        h.Row(
            "4. validation, 200 countries in turn (build_request)",
            rate[200, "on"],
            rate[200, "off"],
            "/s",
            baseline_name="no pattern cache",
        ),
        h.Row(
            "4. validation, 200 countries vs one country",
            rate[200, "on"],
            rate[1, "on"],
            "/s",
            target=f">= {MULTI_COUNTRY_FLOOR:.1f}x",
            met=ratio >= MULTI_COUNTRY_FLOOR,
            baseline_name="one country",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = h.parser(__doc__)
    parser.add_argument("--contacts", type=int, help="contacts in the generated CSV")
    parser.add_argument(
        "--worker", choices=["pipeline", "naive", "validate"], help=argparse.SUPPRESS
    )
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--journal", help=argparse.SUPPRESS)
    parser.add_argument("--regions", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--cache", choices=["on", "off"], default="on", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_as_worker(args)
    contacts = args.contacts or h.pick(args, full=300_000, quick=100_000, smoke=2_000)
    count = h.pick(args, full=60_000, quick=20_000, smoke=500)
    slow_count = h.pick(args, full=8_000, quick=3_000, smoke=200)
    # One pass of the four validation runs: the ratios have held across runs (200 countries
    # vs one: 0.87-0.95x against a 0.5x floor; 15-16x over no cache), a repeat only repeats.
    repeats = h.pick(args, full=1, quick=1, smoke=1)
    with tempfile.TemporaryDirectory(prefix="polyout-bench-") as workdir:
        rows = pipeline_rows(contacts, Path(workdir))
    rows += validation_rows(count, slow_count, repeats)
    h.report(rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
