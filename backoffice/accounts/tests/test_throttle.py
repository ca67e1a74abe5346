"""Login throttling: an account locked after LOGIN_LOCK_FAILURES wrong passwords until a superuser lifts the
lock (both journalled), a source refused for a window after LOGIN_SOURCE_FAILURES failures (passwords and
unknown API tokens), counted exactly under concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.accounts.models import LoginLock, SourceThrottle, ThrottleKind
from backoffice.accounts.throttle import LOCKED_MESSAGE, login_lock_lift
from backoffice.accounts.tokens import api_token_create
from backoffice.core.errors import InvalidInput
from backoffice.journal.models import JournalEntry
from conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
LOCKS = "/admin/accounts/loginlock/"
WRONG = "not-the-password"  # noqa: S105 - a wrong password, on purpose


def staff(username: str, **extra: Any) -> User:
    return User.objects.create_user(username=username, password=TEST_PASSWORD, is_staff=True, **extra)


def log_in(username: str, password: str, ip: str = "10.0.0.1") -> Any:
    return Client(REMOTE_ADDR=ip).post(LOGIN, {"username": username, "password": password, "next": "/admin/"})


def logged_in(response: Any) -> bool:
    return response.status_code == 302 and response.url == "/admin/"


def entries(action: str) -> list[JournalEntry]:
    return list(JournalEntry.objects.filter(action=action).order_by("seq"))


def test_twenty_wrong_passwords_lock_the_account_and_the_right_one_then_does_not_log_in() -> None:
    alice = staff("alice")
    for attempt in range(19):
        assert not logged_in(log_in("alice", WRONG, ip=f"10.0.1.{attempt}"))
    assert LoginLock.objects.get(user=alice).locked_at is None
    assert not logged_in(log_in("alice", WRONG))
    lock = LoginLock.objects.get(user=alice)
    assert lock.locked_at is not None and lock.failures == 20
    [locked] = entries("auth.account_locked")
    assert locked.object_id == str(alice.pk) and locked.data["failures"] == 20

    refused = log_in("alice", TEST_PASSWORD, ip="10.9.9.9")
    assert not logged_in(refused)
    assert "This account is locked" in refused.content.decode() and "administrator" in refused.content.decode()
    assert len(entries("auth.account_locked")) == 1  # locked once, however many attempts follow
    assert not entries("auth.login")


def test_a_success_before_the_threshold_starts_the_count_again() -> None:
    bob = staff("bob")
    for _ in range(19):
        log_in("bob", WRONG)
    assert logged_in(log_in("bob", TEST_PASSWORD))
    assert LoginLock.objects.get(user=bob).failures == 0
    for _ in range(19):
        log_in("bob", WRONG)
    assert LoginLock.objects.get(user=bob).locked_at is None


@override_settings(LOGIN_LOCK_FAILURES=3)
def test_a_superuser_lifts_the_lock_in_the_admin_and_the_right_password_works_again() -> None:
    alice = staff("alice")
    root = User.objects.create_superuser("root", password=TEST_PASSWORD)
    for _ in range(3):
        log_in("alice", WRONG)
    assert not logged_in(log_in("alice", TEST_PASSWORD))
    admin = Client()
    admin.force_login(root)
    listing = admin.get(LOCKS + "?locked=yes")
    assert listing.status_code == 200 and "alice" in listing.content.decode()
    lock = LoginLock.objects.get(user=alice)
    response = admin.post(LOCKS, {"action": "lift_selected", "_selected_action": [lock.pk]}, follow=True)
    assert "Lifted the lock on alice" in response.content.decode()
    lock.refresh_from_db()
    assert lock.locked_at is None and lock.failures == 0
    [lifted] = entries("auth.account_lock_lifted")
    assert lifted.actor_username == "root" and lifted.object_id == str(alice.pk)
    assert (lifted.state_before, lifted.state_after) == ("locked", "unlocked")
    assert logged_in(log_in("alice", TEST_PASSWORD))


@override_settings(LOGIN_LOCK_FAILURES=3)
def test_only_a_superuser_sees_and_lifts_locks() -> None:
    alice = staff("alice")
    for _ in range(3):
        log_in("alice", WRONG)
    manager = staff("manager")
    client = Client()
    client.force_login(manager)
    assert client.get(LOCKS).status_code == 403
    assert client.post(f"{LOCKS}lift/{alice.pk}/").status_code == 403
    with pytest.raises(InvalidInput, match="Only a superuser"):
        login_lock_lift(user_id=alice.pk, actor=manager)
    assert LoginLock.objects.get(user=alice).locked_at is not None
    assert not entries("auth.account_lock_lifted")


def test_lifting_a_lock_that_is_not_there_is_refused_and_changes_nothing() -> None:
    root = User.objects.create_superuser("root", password=TEST_PASSWORD)
    carol = staff("carol")
    for _ in range(2):
        log_in("carol", WRONG)  # counting, not locked
    before = list(LoginLock.objects.values("user_id", "failures", "locked_at"))
    journal_before = JournalEntry.objects.exclude(action="auth.login").count()  # force_login journals one
    for user_id in (carol.pk, root.pk, 999_999):
        with pytest.raises(InvalidInput, match="not locked"):
            login_lock_lift(user_id=user_id, actor=root)
    admin = Client()
    admin.force_login(root)
    response = admin.post(f"{LOCKS}lift/{carol.pk}/", follow=True)
    assert "not locked" in response.content.decode()
    assert admin.get(f"{LOCKS}lift/{carol.pk}/").status_code == 405
    assert list(LoginLock.objects.values("user_id", "failures", "locked_at")) == before
    assert JournalEntry.objects.exclude(action="auth.login").count() == journal_before
    assert not entries("auth.account_lock_lifted")


@override_settings(LOGIN_SOURCE_FAILURES=5, LOGIN_SOURCE_WINDOW_SECONDS=900)
def test_a_source_is_refused_for_the_window_after_too_many_failures_whatever_the_account() -> None:
    staff("dave")
    for attempt in range(5):
        assert not logged_in(log_in(f"nobody{attempt}", WRONG, ip="10.5.5.5"))
    refused = log_in("dave", TEST_PASSWORD, ip="10.5.5.5")
    assert not logged_in(refused)
    assert "Too many failed attempts from your address (429)" in refused.content.decode()
    [blocked] = entries("auth.source_blocked")
    assert blocked.data["source"] == "10.5.5.5" and blocked.data["failures"] == 5
    # Failures are journalled in aggregate per source and minute, not one by one.
    assert len(entries("auth.login_failed")) == 1
    assert logged_in(log_in("dave", TEST_PASSWORD, ip="10.6.6.6"))  # another source is not affected
    # Once the window is over the source may try again.
    SourceThrottle.objects.filter(source="10.5.5.5").update(
        blocked_until=timezone.now() - timedelta(seconds=1),
        window_started_at=timezone.now() - timedelta(seconds=901))
    assert logged_in(log_in("dave", TEST_PASSWORD, ip="10.5.5.5"))


@override_settings(LOGIN_SOURCE_FAILURES=4)
def test_unknown_api_tokens_from_one_source_are_refused_with_429_for_the_window() -> None:
    user = staff("erin")
    _, secret = api_token_create(user=user, name="script")
    for attempt in range(4):
        response = APIClient(REMOTE_ADDR="10.7.7.7", HTTP_AUTHORIZATION=f"Token usdkg_guess{attempt}").get(
            "/api/inbox/")
        assert response.status_code == 401
    throttled = APIClient(REMOTE_ADDR="10.7.7.7", HTTP_AUTHORIZATION=f"Token {secret}").get("/api/inbox/")
    assert throttled.status_code == 429 and "429" in throttled.json()["detail"]
    assert APIClient(REMOTE_ADDR="10.8.8.8", HTTP_AUTHORIZATION=f"Token {secret}").get(
        "/api/inbox/").status_code == 200
    row = SourceThrottle.objects.get(kind=ThrottleKind.API_TOKEN, source="10.7.7.7")
    assert row.failures == 5 and row.blocked_until is not None
    assert not SourceThrottle.objects.filter(kind=ThrottleKind.LOGIN).exists()  # separate counters


def _fail_at_once(threads: int, per_thread: int, username: str) -> None:
    factory = RequestFactory()
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def attempt(index: int) -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                request = factory.post(LOGIN, REMOTE_ADDR=f"10.3.{index}.1")
                assert authenticate(request, username=username, password=WRONG) is None
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
@override_settings(LOGIN_LOCK_FAILURES=1000, LOGIN_SOURCE_FAILURES=1000)
def test_concurrent_failures_are_all_counted() -> None:
    frank = staff("frank")
    _fail_at_once(threads=8, per_thread=5, username="frank")
    assert LoginLock.objects.get(user=frank).failures == 40
    assert sorted(SourceThrottle.objects.values_list("failures", flat=True)) == [5] * 8


@pytest.mark.django_db(transaction=True)
@override_settings(LOGIN_LOCK_FAILURES=20)
def test_concurrent_failures_lock_the_account_once() -> None:
    grace = staff("grace")
    _fail_at_once(threads=6, per_thread=5, username="grace")
    lock = LoginLock.objects.get(user=grace)
    assert lock.locked_at is not None
    # The 20th counted failure locks it; attempts that found it unlocked just before are still counted,
    # attempts after that are refused unchecked and not counted.
    assert 20 <= lock.failures < 30
    [locked] = JournalEntry.objects.filter(action="auth.account_locked")
    assert locked.data["failures"] == 20
    request = RequestFactory().post(LOGIN)
    assert authenticate(request, username="grace", password=TEST_PASSWORD) is None
    assert request.login_refusal == LOCKED_MESSAGE  # type: ignore[attr-defined]
