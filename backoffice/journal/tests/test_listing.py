"""The journal list, `GET /api/journal/` and the CSV export: filters, keyset/cursor paging, permissions,
refusals that change nothing, formula neutralisation, streaming; and the same query count at 1,000,000
rows as at 10 (times are for `make bench`, never for tests)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backoffice.core.exports import csv_cell_safe
from backoffice.journal.benchdata import bulk_address, journal_bulk_fill
from backoffice.journal.models import JournalEntry, JournalReference
from backoffice.journal.services import journal_record

pytestmark = pytest.mark.django_db

ADDRESS = "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01"  # mixed case; in no other test


def _user(username: str, role: str | None) -> Any:
    user = get_user_model().objects.create_user(username=username, password="x" * 20,  # noqa: S106
                                                is_staff=role is not None)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def manager_client(roles: None) -> Client:
    client = Client()
    client.force_login(_user("mgr", "manager"))
    return client


def _api(client: Client, query: str = "") -> Any:
    response = client.get(f"/api/journal/?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def _seqs(body: Any) -> list[int]:
    return [row["seq"] for row in body["results"]]


def _body(response: Any) -> str:
    return b"".join(response.streaming_content).decode()


def _export_count() -> int:
    return JournalEntry.objects.filter(action="journal.export").count()


def test_an_address_in_the_data_is_found_whatever_its_case_and_key(manager_client: Client) -> None:
    about = journal_record(action="test.transfer", data={"leg": {"to": ADDRESS}, "amount": 5})
    in_text = journal_record(action="test.note", data={"note": f"sent to {ADDRESS.lower()} by hand, see ticket"})
    journal_record(action="test.other", data={"to": "0x" + "1" * 40})
    assert set(JournalReference.objects.filter(entry=about).values_list("value", flat=True)) == {ADDRESS.lower(), "5"}
    for written in (ADDRESS, ADDRESS.lower()):
        assert _seqs(_api(manager_client, f"address={written}")) == [in_text.seq, about.seq]


def test_each_filter_selects_only_its_entries(manager_client: Client) -> None:
    boss = _user("boss", None)
    first = journal_record(action="test.alpha", actor=boss, reason="gold bar arrived damaged",
                           state_before="new", state_after="received", data={"tx": "0xABC123"})
    second = journal_record(action="test.beta", obj=boss, state_after="held")
    cases = {
        "actor=boss": [first.seq],
        "action=test.beta": [second.seq],
        f"object_type=auth.user&object_id={boss.pk}": [second.seq],
        "state=received": [first.seq],
        "q=BAR ARRIVED": [first.seq],  # text in the reason, any case
        "q=0xabc123": [first.seq],  # an exact reference among the data values
        f"since={first.created_at.isoformat()}&until={second.created_at.isoformat()}".replace("+", "%2B"): [first.seq],
    }
    for query, expected in cases.items():
        assert _seqs(_api(manager_client, query)) == expected, query


def test_cursor_paging_returns_every_entry_once_newest_first(manager_client: Client) -> None:
    made = [journal_record(action="test.page", data={"n": n}).seq for n in range(25)]
    seen: list[int] = []
    body = _api(manager_client, "action=test.page&page_size=10")
    while True:
        seen += _seqs(body)
        if not body["next"]:
            break
        response = manager_client.get(body["next"])
        assert response.status_code == 200
        body = response.json()
    assert seen == sorted(made, reverse=True)


def test_admin_list_pages_by_keyset_both_ways_and_to_the_oldest(manager_client: Client) -> None:
    journal_bulk_fill(1500)  # about 115 of action 1; the test's transaction rolls them back
    response = manager_client.get("/admin/journal/journalentry/?action=bulk.action1")
    assert response.status_code == 200
    newest = response.context["page"]
    expected = list(JournalEntry.objects.filter(action="bulk.action1").order_by("-seq")
                    .values_list("seq", flat=True))
    assert [e.seq for e in newest.entries] == expected[:50] and newest.newer is None
    older = manager_client.get(f"/admin/journal/journalentry/?action=bulk.action1&before={newest.older}")
    assert [e.seq for e in older.context["page"].entries] == expected[50:100]
    back = manager_client.get(
        f"/admin/journal/journalentry/?action=bulk.action1&after={older.context['page'].newer}")
    assert [e.seq for e in back.context["page"].entries] == expected[:50]
    oldest = manager_client.get("/admin/journal/journalentry/?action=bulk.action1&oldest=1").context["page"]
    assert [e.seq for e in oldest.entries] == expected[-50:] and oldest.older is None


@pytest.mark.parametrize("query", ["address=0x123", "q=ab", "since=yesterday", "acton=test.beta",
                                   "since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z"])
def test_bad_filter_input_is_a_clear_400_and_changes_nothing(manager_client: Client, query: str) -> None:
    journal_record(action="test.some")
    before = JournalEntry.objects.count()
    for url in (f"/api/journal/?{query}", f"/api/journal/export/?{query}"):
        response = manager_client.get(url)
        assert response.status_code == 400, url
        assert response.json()["detail"], response.content
    assert manager_client.get(f"/admin/journal/journalentry/?{query}").status_code == 400
    assert JournalEntry.objects.count() == before and _export_count() == 0


def test_a_page_cursor_that_is_no_entry_number_is_a_400(manager_client: Client) -> None:
    response = manager_client.get("/admin/journal/journalentry/?before=12abc")
    assert response.status_code == 400 and b"entry numbers" in response.content


def test_the_references_are_append_only_like_the_entries() -> None:
    from django.db import DatabaseError, transaction

    entry = journal_record(action="test.keep", data={"to": ADDRESS})
    reference = JournalReference.objects.get(entry=entry)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalReference.objects.filter(pk=reference.pk).update(value="0x" + "0" * 40)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalReference.objects.filter(pk=reference.pk).delete()
    assert JournalReference.objects.get(pk=reference.pk).value == ADDRESS.lower()


def test_only_managers_read_or_export_the_journal(roles: None) -> None:
    journal_record(action="test.secret")
    operator = Client()
    operator.force_login(_user("op", "operator"))
    before = JournalEntry.objects.count()
    for url in ("/api/journal/", "/api/journal/export/"):
        assert operator.get(url).status_code == 403
        assert Client().get(url).status_code in (401, 403)
    assert operator.get("/admin/journal/journalentry/").status_code in (302, 403)
    assert JournalEntry.objects.count() == before and _export_count() == 0


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(manager_client: Client) -> None:
    dangerous = ["=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\tx", "\rx"]
    for text in dangerous:
        journal_record(action="test.csv", reason=text)
    response = manager_client.get("/api/journal/export/?action=test.csv")
    assert response.status_code == 200 and response.streaming
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert sorted(row["reason"] for row in rows) == sorted(f"'{text}" for text in dangerous)
    assert csv_cell_safe("plain") == "plain" and csv_cell_safe(None) == ""


def test_export_streams_every_row_and_is_journalled_with_its_filter(manager_client: Client) -> None:
    last = journal_bulk_fill(4500)  # more than two of the export's chunks
    response = manager_client.get("/api/journal/export/?actor=bulk3")
    assert response.status_code == 200 and response.streaming
    export = JournalEntry.objects.get(action="journal.export")
    assert export.actor_username == "mgr" and export.data["filters"] == {"actor": "bulk3"}
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    expected = [seq for seq in range(last, last - 4500, -1) if (seq % 7) == 3]
    assert [int(row["seq"]) for row in rows] == expected


# --- scale ---------------------------------------------------------------------------------------

def _scenarios(last_seq: int) -> list[str]:
    since = (timezone.now() - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%S")
    until = timezone.now().strftime("%Y-%m-%dT%H:%M:%S")
    return ["", "actor=bulk3", "action=bulk.action5", "object_type=bulk.thing&object_id=42", "state=state2",
            f"address={bulk_address(7)}", "q=bulk reason", "q=0x" + "0" * 40, f"since={since}&until={until}",
            "oldest=1", f"before={max(1, last_seq - 5)}", f"after={max(1, last_seq - 200)}",
            "action=bulk.action5&oldest=1"]


def _query_counts(client: Client, last_seq: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for number, query in enumerate(_scenarios(last_seq)):
        for url in (f"/admin/journal/journalentry/?{query}", f"/api/journal/?{query}"):
            if "/api/" in url and any(k in query for k in ("oldest", "before", "after")):
                continue  # the API pages by its own cursor
            cache.delete("journal:filter-choices:v1")  # the same cache state at both sizes
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200, url
            sql = " ".join(q["sql"].upper() for q in queries.captured_queries if "JOURNAL_JOURNAL" in q["sql"].upper())
            assert "COUNT(" not in sql and "OFFSET" not in sql, url
            counts[f"{url.split('?')[0]} scenario {number}"] = len(queries)
    return counts


def test_every_filter_and_the_last_page_cost_the_same_queries_at_a_million_rows(manager_client: Client) -> None:
    small = _query_counts(manager_client, journal_bulk_fill(10))
    last = journal_bulk_fill(999_990)
    assert JournalEntry.objects.filter(seq__gt=last - 1_000_000).count() >= 1_000_000
    assert _query_counts(manager_client, last) == small


def test_the_schema_describes_the_journal_endpoints_without_a_warning() -> None:
    from django.urls import include, path
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=[path("api/journal/", include("backoffice.journal.api"))]).get_schema(
        request=None, public=True)
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    validate_schema(schema)
    assert sorted(schema["paths"]) == ["/api/journal/", "/api/journal/export/"]
    assert {p["name"] for p in schema["paths"]["/api/journal/"]["get"]["parameters"]} >= {"address", "q", "cursor"}
