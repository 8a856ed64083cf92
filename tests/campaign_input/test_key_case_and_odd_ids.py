"""Metadata keys that differ only in case (issue 17, item 29), and ids that look like markup
(item 16): every source treats them the same way.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

import polyout
import polyout.campaign
from polyout import Contact, RowError
from polyout.campaign import Planner, check_contacts
from tests.campaign_input.conftest import WriteFile

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.timezone.utc)
ANN = "+447911123456"


def test_csv_refuses_metadata_columns_that_differ_only_in_case(write: WriteFile) -> None:
    path = write("c.csv", f"phone,name,Name\n{ANN},a,b\n")
    with pytest.raises(polyout.ContactFileError, match=r"'Name' twice \(as 'name' too\)"):
        list(polyout.campaign.iter_contacts(path))


def test_jsonl_refuses_a_row_whose_metadata_keys_differ_only_in_case(write: WriteFile) -> None:
    rows = [
        {"id": "clash", "phone": ANN, "metadata": {"name": "a", "Name": "b"}},
        {"id": "fine", "phone": "+447911123457", "metadata": {"name": "a", "other": "b"}},
    ]
    path = write("c.jsonl", "".join(json.dumps(row) + "\n" for row in rows))
    checked = check_contacts(polyout.campaign.iter_contacts(path), Planner(), rate=1.0, now=NOW)
    assert (checked.valid, checked.invalid) == (1, 1)
    [problem] = checked.problems
    assert (problem.contact_id, problem.row, problem.state) == ("clash", 1, "invalid")
    # The same words as the CSV header's refusal.
    assert "'Name' twice (as 'name' too)" in problem.reason


def test_a_contact_from_python_with_such_keys_is_refused_too() -> None:
    contact = Contact(id="c", phone=ANN, metadata={"X-Ref": "1", "x-ref": "2"})
    result = Planner().plan(contact)
    assert isinstance(result, polyout.campaign.Excluded)
    assert "'x-ref' twice (as 'X-Ref' too)" in result.reason


MARKUP_IDS = ["[/bold]", "[bold]x[/bold]", "[link=file:///etc/passwd]x", "\\[x]", "[", "]"]


@pytest.mark.parametrize("contact_id", MARKUP_IDS)
def test_readers_keep_ids_that_look_like_markup(write: WriteFile, contact_id: str) -> None:
    quoted = '"' + contact_id.replace('"', '""') + '"'
    csv_path = write("c.csv", f"id,phone\n{quoted},{ANN}\n")
    jsonl_path = write("c.jsonl", json.dumps({"id": contact_id, "phone": "+44"}) + "\n")
    [from_csv] = polyout.campaign.iter_contacts(csv_path)
    [from_jsonl] = polyout.campaign.iter_contacts(jsonl_path)
    assert isinstance(from_csv, Contact)
    assert from_csv.id == contact_id
    assert isinstance(from_jsonl, Contact)
    assert from_jsonl.id == contact_id
    # The invalid one becomes a problem named by that same id.
    checked = check_contacts([from_csv, from_jsonl], Planner(), rate=1.0, now=NOW)
    assert [p.contact_id for p in checked.problems] == [contact_id]


def test_a_row_error_keeps_a_markup_id(write: WriteFile) -> None:
    path = write("c.jsonl", json.dumps({"id": "[/bold]", "phone": ANN, "x": "1"}) + "\n")
    [item] = polyout.campaign.iter_contacts(path)
    assert isinstance(item, RowError)
    assert item.contact_id == "[/bold]"
