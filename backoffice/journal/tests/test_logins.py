"""Failed logins: journalled per source and minute, and never a password typed as a username."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from backoffice.journal.context import Origin
from backoffice.journal.logins import UNKNOWN_USERNAME, login_failure_record, login_failures_summarise
from backoffice.journal.models import JournalEntry, LoginFailureWindow
from backoffice.journal.selectors import journal_verify
from backoffice.journal.tasks import login_failures_summarise_task

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _fail(ip: str, at: datetime, username: str = "alice") -> JournalEntry | None:
    return login_failure_record(username=username, origin=Origin(ip=ip, agent="test"), now=at)


def _entries(action: str) -> list[tuple[str | None, dict]]:
    return list(JournalEntry.objects.filter(action=action).order_by("seq").values_list("origin_ip", "data"))


def test_repeated_failures_of_a_source_in_a_minute_are_one_entry_then_one_summary():
    get_user_model().objects.create_user("alice", password="x" * 12)
    for second in range(0, 50, 10):
        _fail("10.0.0.1", NOON + timedelta(seconds=second))
    _fail("10.0.0.2", NOON + timedelta(seconds=30))
    _fail("10.0.0.2", NOON + timedelta(seconds=59))
    assert [ip for ip, _ in _entries("auth.login_failed")] == ["10.0.0.1", "10.0.0.2"]
    assert _entries("auth.login_failed_summary") == []  # the minute is not over

    _fail("10.0.0.1", NOON + timedelta(minutes=1, seconds=5))  # the next minute closes the last one
    minute = NOON.isoformat()
    assert _entries("auth.login_failed_summary") == [
        ("10.0.0.1", {"source": "10.0.0.1", "minute": minute, "failures": 5}),
        ("10.0.0.2", {"source": "10.0.0.2", "minute": minute, "failures": 2}),
    ]
    assert [ip for ip, _ in _entries("auth.login_failed")] == ["10.0.0.1", "10.0.0.2", "10.0.0.1"]
    assert list(LoginFailureWindow.objects.values_list("source", "failures")) == [("10.0.0.1", 1)]
    assert journal_verify().ok


def test_a_lone_failure_needs_no_summary_and_the_periodic_task_closes_past_minutes():
    _fail("10.0.0.3", NOON)
    _fail("10.0.0.4", NOON)
    _fail("10.0.0.4", NOON + timedelta(seconds=1))
    assert login_failures_summarise_task() == 2  # nobody failed since: the task closes them
    assert [d["source"] for _, d in _entries("auth.login_failed_summary")] == ["10.0.0.4"]
    assert not LoginFailureWindow.objects.exists()


@override_settings(LOGIN_FAILURE_SOURCES_PER_MINUTE=2)
def test_sources_beyond_the_cap_share_one_counter():
    before = JournalEntry.objects.count()
    for n in range(10):
        _fail(f"10.0.1.{n}", NOON + timedelta(seconds=n))
    # Two sources on their own, and one entry for the eight others together.
    assert [d["source"] for _, d in _entries("auth.login_failed")] == ["10.0.1.0", "10.0.1.1", "*"]
    assert JournalEntry.objects.count() == before + 3
    assert LoginFailureWindow.objects.get(source="*").failures == 8


@pytest.mark.parametrize("typed", ["Tr0ub4dor&3-correct", "alice Tr0ub4dor&3-correct", "Alice"])
def test_a_username_that_names_no_user_is_never_stored(client, typed):
    get_user_model().objects.create_user("alice", password="x" * 12, is_staff=True)
    for _ in range(2):
        response = client.post("/admin/login/?next=/admin/", {"username": typed, "password": "wrong"},
                               REMOTE_ADDR="10.9.9.9")
        assert response.status_code == 200
    entry = JournalEntry.objects.get(action="auth.login_failed")
    assert (entry.actor_username, entry.data["username"], entry.origin_ip) == ("", UNKNOWN_USERNAME, "10.9.9.9")
    login_failures_summarise(before=NOON.replace(year=2100))  # close this very minute too
    stored = " ".join(str(row) for row in JournalEntry.objects.values_list())
    assert "Tr0ub4dor" not in stored and typed not in stored
    assert JournalEntry.objects.get(action="auth.login_failed_summary").data["failures"] == 2
