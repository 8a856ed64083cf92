"""Hostile contact files, end to end: ``polyout campaign validate`` and ``run`` on generated files.

The readers' own tests (tests/campaign_input) prove each row gives one item; here whole
files go through the command as an operator would run it, against the sandbox: wrong
encodings, BOMs, NUL bytes, huge fields and 1 MB lines, ragged rows, missing or
duplicated headers, numbers with letters or unicode digits, metadata with nested
values. Either the file is refused whole, with one clear line and nothing dialled, or
every row ends as exactly one final result, and nobody is dialled twice. Never a
traceback, never a hang.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from polyout._campaign._journal import FINAL_STATES
from polyout._campaign._readers import iter_contacts
from polyout._cli import main
from polyout._cli._errors import ExitCode
from tests.cli.conftest import API_KEY, SandboxThread, start_sandbox

from .conftest import session_seed
from .helpers import JournalView

pytestmark = pytest.mark.reliability

_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MEGABYTE = 1024 * 1024


@pytest.fixture(scope="module")
def fast_sandbox() -> Iterator[SandboxThread]:
    """Every call answered in a few milliseconds."""
    running = start_sandbox(time_scale=5000.0)
    yield running
    running.stop()


# -- what a hostile file is made of ------------------------------------------------------------
def _e164(n: int) -> str:
    return f"+4474001{n:05d}"  # last digit 0-6 is answered by the sandbox's last-digit rule


_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_FULLWIDTH = str.maketrans("0123456789+", "０１２３４５６７８９＋")


@st.composite
def phones(draw: st.DrawFn) -> str:
    n = draw(st.integers(0, 40)) * 10 + draw(st.integers(0, 6))
    number = _e164(n)
    form = draw(st.integers(0, 7))
    if form == 1:
        return number.translate(_ARABIC_INDIC)
    if form == 2:
        return number.translate(_FULLWIDTH)
    if form == 3:
        return number[:6] + "O" + number[7:]  # a letter O for a zero
    if form == 4:
        return number + draw(st.sampled_from(["x12", " ext 4", "abc"]))
    if form == 5:
        return draw(st.text(max_size=14))
    if form == 6:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    return number


def _huge(draw: st.DrawFn) -> str:
    return "x" * draw(st.sampled_from([200 * 1024, MEGABYTE + 17]))


@st.composite
def cells(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 12))
    if kind == 0:
        return _huge(draw)
    if kind == 1:
        return "a\x00b"
    if kind == 2:
        return '"' + draw(st.text(max_size=8))  # a stray quote
    return draw(st.text(max_size=10))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(
        st.sampled_from(
            [
                *[["phone", "id", "note"]] * 4,
                *[["Phone Number", "ID", "note", "country_code"]] * 2,
                ["phone", "phone", "id"],  # duplicated
                ["name", "id"],  # no phone column
                ["phone", "", "note"],  # a column with no name
                [],  # no header: the first data row stands in its place
            ]
        )
    )
    width = max(len(header), 3)
    rows: list[list[str]] = []
    for _ in range(draw(st.integers(0, 12))):
        row = [draw(phones()), draw(st.text(max_size=6)), draw(cells())][:width]
        row += [draw(cells()) for _ in range(width - len(row))]
        ragged = draw(st.integers(-1, 1)) if draw(st.integers(0, 4)) == 0 else 0
        rows.append(row[: width + ragged] if ragged < 0 else row + ["extra"] * ragged)
    ending = draw(st.sampled_from(["\n", "\n", "\r\n", "\r"]))
    text = ending.join(",".join(cell.replace(",", ";") for cell in row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
    return text.encode(encoding, errors="replace")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@st.composite
def jsonl_lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind <= 3:
        contact: dict[str, object] = {"phone": draw(phones()), "id": draw(st.text(max_size=6))}
        if draw(st.booleans()):
            contact["metadata"] = draw(
                st.dictionaries(st.text(min_size=1, max_size=5), json_values, max_size=3)
            )
        return json.dumps(contact, ensure_ascii=draw(st.booleans())).encode()
    if kind == 4:
        return b'{"phone": "' + _e164(1).encode() + b'", "phone": "' + _e164(2).encode() + b'"}'
    if kind == 5:
        return b'{"phone": "' + _huge(draw).encode() + b'"}'
    if kind == 6:
        return draw(st.binary(max_size=20)).replace(b"\n", b"")
    if kind == 7:
        return json.dumps(draw(json_values)).encode()
    if kind == 8:
        return '{"phone": "+٤٤٧٤٠٠١٠٠٠٠١"}'.encode("latin-1", errors="replace")
    return b""


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(jsonl_lines(), max_size=10))
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + b"\n".join(lines)


# -- running the command on one file -----------------------------------------------------------
@attrs.frozen
class Outcome:
    code: int
    err: str


def _polyout(*argv: str) -> Outcome:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Outcome(code, err.getvalue())


def _row_count(path: Path) -> int | None:
    """How many items the reader makes of the file, or None when it refuses it."""
    try:
        return sum(1 for _ in iter_contacts(path))
    except Exception:
        return None


def _check_file(sandbox: SandboxThread, name: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        journal = Path(folder) / "journal.db"
        context = f"session seed {session_seed()}; {name} of {len(content)} bytes"

        checked = _polyout("campaign", "validate", str(path))
        _assert_one_clear_line_or_none(checked, context + ", validate")
        assert checked.code in (ExitCode.OK, ExitCode.ATTENTION, ExitCode.USAGE), context

        placed_before = sandbox.placements()
        ran = _polyout(
            "campaign",
            "run",
            str(path),
            "--journal",
            str(journal),
            "--rate",
            "200",
            "--poll-interval",
            "0.02s",
            "--base-url",
            sandbox.base_url,
            "--api-key",
            API_KEY,
            "--agent-id",
            "PROJECT-HOSTILE",
            "--environment",
            "sandbox",
        )
        _assert_one_clear_line_or_none(ran, context + ", run")
        new = sandbox.sandbox.ledger.placements[placed_before:]
        rows = _row_count(path)
        event(f"run exit {ran.code}")
        if ran.code == ExitCode.USAGE:
            # Refused whole: said so, dialled nobody, left no journal to resume.
            assert ran.err.startswith("polyout: error: "), context
            assert new == [], context
            assert not journal.exists(), context
            return
        assert ran.code in (ExitCode.OK, ExitCode.ATTENTION), f"{context}: {ran.err}"
        view = JournalView.read(journal)
        assert len(view.contacts) == rows, context
        assert all(contact.state in FINAL_STATES for contact in view.contacts), context
        dialable = {c.to_number: c for c in view.contacts if c.dialable}
        numbers = [placement.number for placement in new]
        assert len(numbers) == len(set(numbers)), f"{context}: someone was dialled twice"
        assert set(numbers) <= set(dialable), f"{context}: a refused row was dialled"
        for number in numbers:
            assert dialable[number].attempts == 1, context


def _assert_one_clear_line_or_none(outcome: Outcome, context: str) -> None:
    assert "Traceback" not in outcome.err, f"{context}: {outcome.err}"
    assert "internal error" not in outcome.err, f"{context}: {outcome.err}"
    errors = [line for line in outcome.err.splitlines() if line.startswith("polyout: error")]
    assert len(errors) <= 1, f"{context}: {outcome.err}"
    for line in errors:
        assert len(line) < 600, f"{context}: a hostile file chose the message's length"


@hypothesis_seed(session_seed())
@_SETTINGS
@given(content=csv_files())
def test_hostile_csv_files_end_as_results_or_a_clear_refusal(
    fast_sandbox: SandboxThread, content: bytes
) -> None:
    _check_file(fast_sandbox, "contacts.csv", content)


@hypothesis_seed(session_seed())
@_SETTINGS
@given(content=jsonl_files())
def test_hostile_jsonl_files_end_as_results_or_a_clear_refusal(
    fast_sandbox: SandboxThread, content: bytes
) -> None:
    _check_file(fast_sandbox, "contacts.jsonl", content)
