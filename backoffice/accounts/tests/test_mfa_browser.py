"""Enrolment in Chromium: a new staff user logs in, is sent to enrolment, reads the secret from the page,
types the code an authenticator app would show, gets recovery codes once and reaches the admin home; on
the next login the challenge asks for a code."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.models import User
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from backoffice.journal.models import JournalEntry
from conftest import TEST_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def _password(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.click("input[type=submit]")


def test_a_new_staff_user_enrols_with_totp_in_the_browser(live_server, page, roles):
    user = User.objects.create_user(username="newcomer", password=TEST_PASSWORD, is_staff=True, is_superuser=True)
    base = live_server.url
    _password(page, base, "newcomer")
    page.wait_for_url(f"{base}/account/second-factor/enrol/?next=%2Fadmin%2F")
    # Nothing else is reachable before enrolment.
    page.goto(f"{base}/admin/auth/user/")
    page.wait_for_url(f"{base}/account/second-factor/enrol/**")
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    assert secret and page.locator("#totp-uri").get_attribute("href").startswith("otpauth://totp/")
    page.fill("#id_code", f"{totp(base64.b32decode(secret)):06d}")
    page.click("#mfa-enrol input[type=submit]")
    codes = page.locator("#recovery-codes li")
    expect(codes).to_have_count(10)
    page.click("#mfa-continue")
    page.wait_for_url(f"{base}/admin/auth/user/")
    assert TOTPDevice.objects.get(user=user).confirmed
    assert JournalEntry.objects.filter(action="mfa.enrolled", actor=user).count() == 1

    # A later login: the challenge, not enrolment.
    page.context.clear_cookies()
    TOTPDevice.objects.filter(user=user).update(last_t=-1)  # the same 30 seconds: let the code count again
    _password(page, base, "newcomer")
    page.wait_for_url(f"{base}/account/second-factor/check/**")
    page.fill("#id_code", f"{totp(base64.b32decode(secret)):06d}")
    page.click("#mfa-challenge input[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    expect(page.locator("#content")).to_be_visible()
