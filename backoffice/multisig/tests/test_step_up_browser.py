"""The signing page in Chromium once the step-up has expired: the signature is refused (nothing stored),
the page goes to the challenge, and after the code comes back to the transaction, where signing works."""

from __future__ import annotations

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from playwright.sync_api import expect

from backoffice.accounts.mfa import VERIFIED_AT_SESSION_KEY
from backoffice.accounts.tests.mfa import totp_code
from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.multisig.models import Confirmation
from backoffice.multisig.tests.browser import log_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_a_signature_after_the_step_up_expired_goes_to_the_challenge_and_back(live_server, page, chain,
                                                                              gold_backing, settings):
    from issuance.services.proposals import proposal_draft, proposal_propose

    settings.DEBUG, settings.CHAIN_IS_LOCAL = True, True  # the development wallet signs for the owners
    operator = get_user_model().objects.get(username="operator")
    proposal = proposal_draft(client=chain_client(), kind="issue", actor=operator, amount="100",
                              recipient=dev_account(18).address, deposit_ids=[gold_backing.pk], memo="step-up")
    tx = proposal_propose(client=chain_client(), proposal_id=proposal.pk, actor=operator).transaction
    assert tx is not None
    base, signing = live_server.url, f"/multisig/{tx.pk}/"
    page.set_default_timeout(20_000)
    log_in(page, base, "owner1", signing)

    # Six minutes later, as far as the step-up knows.
    cookie = next(c for c in page.context.cookies() if c["name"] == "sessionid")
    session = SessionStore(session_key=cookie["value"])
    session[VERIFIED_AT_SESSION_KEY] = time.time() - 360
    session.save()

    page.click("#sign-button")
    page.wait_for_url(re.compile(r"/account/second-factor/check/\?next="))
    expect(page.locator("#step-up-note")).to_be_visible()
    assert Confirmation.objects.filter(transaction=tx).count() == 0

    page.fill("#id_code", totp_code(get_user_model().objects.get(username="owner1")))
    page.click("#mfa-challenge input[type=submit]")
    page.wait_for_url(f"{base}{signing}")
    page.click("#sign-button")
    expect(page.locator("#sign-result")).to_contain_text("Signature accepted: 1 of 3.")
    assert Confirmation.objects.filter(transaction=tx).count() == 1
