"""In a real browser (Debian's chromium): an owner sees the header's count, finds the transaction on
the inbox, opens its signing page from there, and turns a notification's e-mail off."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from eth_account import Account

from backoffice.accounts.models import NotificationPreference
from backoffice.multisig.tests.browser import log_in
from backoffice.multisig.tests.helpers import issue_propose

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_an_owner_goes_from_the_inbox_to_the_signing_page_and_turns_a_mail_off(
    chain: Any, live_server: Any, page: Any
) -> None:
    tx = issue_propose(1_000_000, Account.create().address)
    log_in(page, live_server.url, "owner2", "/admin/")
    assert page.locator("#inbox-count").inner_text() == "1"
    row = page.locator(f'#inbox tr.inbox-signature[data-reference="{tx.reference}"]')
    assert "Awaiting 3 more approvals" in row.inner_text()
    assert f"{tx.reference}: awaits your approval" in page.locator("#inbox-notifications").inner_text()
    row.locator("a").click()
    page.wait_for_url(f"{live_server.url}{reverse('multisig:sign', args=[tx.pk])}")

    page.goto(f"{live_server.url}/admin/")
    page.click("#notification-preferences-link")
    page.wait_for_url(f"{live_server.url}{reverse('accounts:notification-preferences')}")
    assert page.locator("#mailed-alert").is_disabled() and page.locator("#mailed-alert").is_checked()
    page.uncheck("#mailed-executed")
    page.click("#notification-preferences input[type=submit]")
    assert "preferences are saved" in page.locator(".messagelist").inner_text()
    assert not page.locator("#mailed-executed").is_checked()
    owner2 = get_user_model().objects.get(username="owner2")
    assert NotificationPreference.objects.get(user=owner2).muted == ["executed"]
