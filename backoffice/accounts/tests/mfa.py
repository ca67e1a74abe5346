"""Test helpers for the second factor: a confirmed TOTP device with a known secret and its current code,
a session marked verified the way django_otp marks it, and the browser's challenge step.

The root conftest.py wraps the test client's login (force_login, login, and APIClient.force_authenticate)
with `client_session_verify`, so every existing test signs in with its second factor passed;
`log_in_password_only` is the way around it, for tests about unverified sessions.
"""

from __future__ import annotations

import re
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.test.client import ClientMixin
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice.accounts.mfa import TOTP_NAME, VERIFIED_AT_SESSION_KEY
from backoffice.accounts.middleware import SEEN_AT_SESSION_KEY, STARTED_AT_SESSION_KEY

KNOWN_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test key, hex


def totp_device_give(user: User) -> TOTPDevice:
    """The user's confirmed TOTP device, with the known key (made once)."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, name=TOTP_NAME, confirmed=True,
                                                 defaults={"key": KNOWN_KEY})
    return device


def totp_code(user: User) -> str:
    """A code the user's device accepts now. The device's memory of the last code used is cleared, so a
    test may sign the same user in twice within 30 seconds (TOTP refuses a code's second use)."""
    device = totp_device_give(user)
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0,
                                                   throttling_failure_timestamp=None)
    return code_of(device.bin_key, step=device.step, digits=device.digits)


def code_of(key: bytes, *, step: int = 30, digits: int = 6) -> str:
    return f"{totp(key, step=step, digits=digits):0{digits}d}"


def client_session_verify(client: Any, user: User, *, at: float | None = None) -> None:
    """Mark the client's session as having passed `user`'s second factor (at `at`, default now)."""
    device = totp_device_give(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[VERIFIED_AT_SESSION_KEY] = time.time() if at is None else at
    # The session's start and last activity, as the first request would note them: that request then
    # costs what every later one does (tests count queries).
    now = time.time()
    session.setdefault(STARTED_AT_SESSION_KEY, now)
    session.setdefault(SEEN_AT_SESSION_KEY, now)
    session.save()


def client_session_attach(client: Any, user: User) -> None:
    """Make the client's session `user`'s, verified, without a login (no user_logged_in signal, so no
    journal entry): for APIClient.force_authenticate, which never logged in and whose tests count entries."""
    session = client.session  # made and saved, its cookie set, if the client had none
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]  # the throttling backend
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    client_session_verify(client, user)


def log_in_password_only(client: Any, user: User) -> None:
    """force_login as Django does it, without passing the second factor."""
    user.backend = settings.AUTHENTICATION_BACKENDS[0]  # type: ignore[attr-defined]
    PASSWORD_ONLY_LOGIN(client, user, user.backend)  # type: ignore[attr-defined]


PASSWORD_ONLY_LOGIN = ClientMixin._login  # type: ignore[attr-defined]  # the original, before conftest wraps it


def browser_second_factor(page: Any, username: str) -> None:
    """In the browser, after the password was submitted: answer the challenge with the user's current code.

    The user gets the known device if they had none; if the login got to enrolment before that, the page
    is reloaded, and enrolment sends a user who has a device to the challenge."""
    code = totp_code(User.objects.get(username=username))
    page.wait_for_url(re.compile(r"/account/second-factor/(enrol|check)/"))
    if "/enrol/" in page.url:
        page.reload()
    page.wait_for_selector("#mfa-challenge")
    page.fill("#id_code", code)
    page.click("#mfa-challenge input[type=submit]")
