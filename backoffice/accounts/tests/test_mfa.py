"""The second factor: a session without it reaches only enrolment, the challenge and logout; enrolment
confirms with a code and shows recovery codes once; failures and recovery-code use are journalled; money
moves need a step-up within STEP_UP_SECONDS (API and pages), API tokens only with may_sign; sessions
expire idle and in all."""

from __future__ import annotations

import base64
import re
import time

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from backoffice.accounts.mfa import VERIFIED_AT_SESSION_KEY
from backoffice.accounts.middleware import SEEN_AT_SESSION_KEY, STARTED_AT_SESSION_KEY
from backoffice.accounts.tests.mfa import (
    client_session_verify,
    code_of,
    log_in_password_only,
    totp_code,
    totp_device_give,
)
from backoffice.accounts.tokens import api_token_create
from backoffice.journal.models import JournalEntry
from conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db

ENROL, CHALLENGE = "/account/second-factor/enrol/", "/account/second-factor/check/"


def staff(username: str, *, superuser: bool = False) -> User:
    return User.objects.create_user(username=username, password=TEST_PASSWORD, is_staff=True,
                                    is_superuser=superuser)


def unverified(user: User) -> Client:
    client = Client()
    log_in_password_only(client, user)
    return client


# --- nothing before the second factor ---------------------------------------------------------------
def test_an_unverified_session_reaches_only_enrolment_the_challenge_and_logout(roles: None) -> None:
    new, enrolled = staff("newcomer", superuser=True), staff("enrolled", superuser=True)
    totp_device_give(enrolled)
    urls = ["/admin/", f"/admin/auth/user/{new.pk}/change/", "/admin/issuance/ownerproposal/", "/multisig/1/",
            "/account/notifications/", "/history/address/"]
    for user, target in ((new, ENROL), (enrolled, CHALLENGE)):
        client = unverified(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and response["Location"].startswith(target), (user, url)
            assert f"next={url.replace('/', '%2F')}" in response["Location"]
        api = client.get("/api/inbox/")
        assert api.status_code == 403 and api.json()["detail"].startswith("second factor required")
        assert api.json()["step_up"].startswith(target)
        assert client.post("/api/multisig/transactions/1/signatures/", {}).status_code == 403
        assert client.get(target).status_code == 200
        assert client.get("/static/admin/css/base.css").status_code in (200, 404)  # never a redirect
        assert client.post("/admin/logout/").status_code == 200
        assert client.get("/admin/").status_code == 302  # logged out: to the login page now
        assert client.get("/admin/")["Location"].startswith("/admin/login/")


def test_a_verified_session_reaches_the_admin_and_the_api(roles: None) -> None:
    user = staff("verified", superuser=True)
    client = unverified(user)
    client_session_verify(client, user)
    assert client.get("/admin/").status_code == 200
    assert client.get("/api/inbox/").status_code == 200


def test_an_api_token_is_no_session_and_keeps_working(roles: None) -> None:
    user = staff("scripted", superuser=True)  # no device at all
    _, secret = api_token_create(user=user, name="script")
    response = APIClient(HTTP_AUTHORIZATION=f"Token {secret}").get("/api/inbox/")
    assert response.status_code == 200, response.content


# --- enrolment and the challenge ----------------------------------------------------------------------
def test_enrolment_confirms_with_a_code_and_shows_recovery_codes_once(roles: None) -> None:
    user = staff("alice")
    client = unverified(user)
    page = client.get(f"{ENROL}?next=/admin/")
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page.content.decode())
    assert secret and "otpauth://totp/" in page.content.decode()
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed

    wrong = client.post(ENROL, {"code": "000000" if code_of(device.bin_key) != "000000" else "111111"})
    assert wrong.status_code == 400 and not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get("/admin/").status_code == 302  # still nothing else
    assert JournalEntry.objects.filter(action="mfa.verification_failed", data__user="alice").count() == 1

    key = base64.b32decode(secret.group(1))
    time.sleep(1.1)  # django_otp's throttling: after a failure, the device refuses every code for a second
    done = client.post(ENROL, {"code": f"{totp(key):06d}", "next": "/admin/"})
    assert done.status_code == 302 and done["Location"].startswith("/account/second-factor/recovery-codes/")
    codes_page = client.get(done["Location"]).content.decode()
    codes = re.findall(r"<code>([0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4})</code>", codes_page)
    assert len(codes) == 10
    assert client.get("/account/second-factor/recovery-codes/").status_code == 302  # shown once
    assert client.get("/admin/").status_code == 200
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert StaticDevice.objects.get(user=user).token_set.count() == 10
    entry = JournalEntry.objects.get(action="mfa.enrolled")
    assert (entry.actor, entry.data["kind"], entry.data["recovery_codes"]) == (user, "totp", 10)
    assert not any(code in str(entry.data) for code in codes)


def test_the_challenge_takes_a_code_or_a_recovery_code_once_and_journals_failures(roles: None) -> None:
    from backoffice.accounts.mfa import recovery_codes_replace

    user = staff("bob")
    totp_device_give(user)
    codes = recovery_codes_replace(user=user)

    client = unverified(user)
    refused = client.post(CHALLENGE, {"code": "not-a-code"})
    assert refused.status_code == 400 and client.get("/admin/").status_code == 302
    assert JournalEntry.objects.filter(action="mfa.verification_failed", data__during="challenge").count() == 1
    time.sleep(1.1)  # throttled for a second after a failure
    passed = client.post(CHALLENGE, {"code": totp_code(user), "next": "/admin/"})
    assert passed.status_code == 302 and passed["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert isinstance(client.session[VERIFIED_AT_SESSION_KEY], float)

    other = unverified(user)
    assert other.post(CHALLENGE, {"code": codes[0]}).status_code == 302
    assert other.get("/admin/").status_code == 200
    used = JournalEntry.objects.get(action="mfa.recovery_code_used")
    assert (used.actor, used.data["remaining"]) == (user, 9)
    third = unverified(user)
    assert third.post(CHALLENGE, {"code": codes[0]}).status_code == 400  # spent
    assert third.get("/admin/").status_code == 302


def test_an_outside_next_is_not_followed(roles: None) -> None:
    user = staff("carol")
    client = unverified(user)
    response = client.post(CHALLENGE, {"code": totp_code(user), "next": "https://evil.example/"})
    assert response["Location"] == "/admin/"


# --- sessions expire ---------------------------------------------------------------------------------
def _aged(client: Client, *, started: float, seen: float) -> None:
    session = client.session
    session[STARTED_AT_SESSION_KEY], session[SEEN_AT_SESSION_KEY] = started, seen
    session.save()


def test_a_session_idle_for_30_minutes_is_logged_out_with_a_message(roles: None, settings) -> None:
    settings.SESSION_SEEN_RESOLUTION_SECONDS = 15  # as outside tests
    user = staff("idle", superuser=True)
    client = Client()
    client.force_login(user)
    assert client.get("/admin/").status_code == 200
    now = time.time()
    _aged(client, started=now - 1900, seen=now - 1700)
    assert client.get("/admin/").status_code == 200  # 28 minutes idle: still in, and active again
    assert client.session[SEEN_AT_SESSION_KEY] >= now
    _aged(client, started=now - 1900, seen=now - 1801)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[0][0].startswith("/admin/login/?next=/admin/")
    assert "Your session expired after 30 minutes without activity" in response.content.decode()
    assert client.get("/api/inbox/").status_code == 403  # logged out


def test_a_session_ends_12_hours_after_login_however_active(roles: None) -> None:
    user = staff("busy", superuser=True)
    client = Client()
    client.force_login(user)
    now = time.time()
    _aged(client, started=now - 43100, seen=now - 5)
    assert client.get("/admin/").status_code == 200
    _aged(client, started=now - 43201, seen=now - 5)
    response = client.get("/admin/", follow=True)
    assert "Your session expired 12 hours after you logged in" in response.content.decode()
    api = Client()
    api.force_login(user)
    _aged(api, started=now - 43201, seen=now - 5)
    expired = api.get("/api/inbox/")
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
