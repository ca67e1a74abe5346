"""Pause, unpause, set fee and redeem in a real browser, on both multisig kinds: the operator drafts
and proposes in the admin, three owners consent on the signing page with the development wallet (sign
on a Safe; approve on chain and execute on the USDKG multisig), and each ends with its effect read
from the chain directly."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from backoffice.chain.client import chain_client
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.tests.browser import EXECUTED_LABEL, log_in, owners_consent
from issuance.models import OwnerProposal
from issuance.tests.factories import issue_on_chain

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

REDEEM = 2_500_000  # 2.5 tokens in base units


def _propose(page: Any, base: str, kind: str, **fields: str) -> str:
    """The operator drafts `kind` with `fields` and proposes it; returns its signing page's path."""
    page.goto(f"{base}/admin/issuance/ownerproposal/add/")
    page.select_option("#id_kind", kind)
    for name, value in fields.items():
        page.fill(f"#id_{name}", value)
    page.fill("#id_memo", f"Browser test: {kind}.")
    page.click("input[name=_continue]")
    page.wait_for_url(re.compile(r"/admin/issuance/ownerproposal/\d+/change/$"))
    page.click("button[name=_fsm_transition_to][value=propose]")
    expect(page.locator("#transition-confirmation")).to_contain_text("to the owners:")  # nothing happened yet
    page.click("#transition-form input[type=submit]")
    expect(page.locator("#signing-page-link")).to_be_visible()
    page.click("#signing-page-link")
    page.wait_for_url(re.compile(r"/multisig/\d+/$"))
    return page.url.removeprefix(base)


def _consent(browser: Any, page: Any, base: str, path: str, kind: str) -> MultisigTransaction:
    pages = owners_consent(browser, base, path, ["owner1", "owner2", "owner3"], kind=kind)
    expect(page.locator("#tx-state")).to_have_text(EXECUTED_LABEL, timeout=60_000)  # the operator's page follows
    for owner_page in pages:
        owner_page.context.close()
    tx = MultisigTransaction.objects.get(pk=int(path.strip("/").rsplit("/", 1)[-1]))
    assert tx.state == TxState.EXECUTED, tx.failure_reason
    return tx


@pytest.mark.parametrize("chain", ["safe", "usdkg"], indirect=True)
def test_owners_pause_unpause_set_the_fee_and_redeem_in_the_browser(
    live_server: Any, browser: Any, page: Any, chain: Any, gold_backing: Any, celery_worker: str, settings: Any
) -> None:
    settings.DEBUG, settings.CHAIN_IS_LOCAL = True, True  # the development wallet consents for the owners
    client, d, base = chain_client(), deployment_get(), live_server.url
    token, multisig = d.token, d.issuance_multisig
    # Redeem burns what the issuance multisig itself holds: put some there first, before the worker
    # has anything of this test to send (this process uses the relayer here too).
    issue_on_chain(amount=REDEEM, recipient=multisig)
    log_in(page, base, "operator", "/admin/")

    # Pause and unpause, in whichever order leaves the token as it was found.
    paused = client.token_paused(token)
    for kind in (("unpause", "pause") if paused else ("pause", "unpause")):
        _consent(browser, page, base, _propose(page, base, kind), chain.kind)
        assert client.token_paused(token) == (kind == "pause")
    assert client.token_paused(token) == paused

    fee = (client.token_fee_basis_points(token) + 1) % 21
    _consent(browser, page, base, _propose(page, base, "set_fee", fee_basis_points=str(fee)), chain.kind)
    assert client.token_fee_basis_points(token) == fee

    held, supply = client.token_balance(token, multisig), client.token_total_supply(token)
    tx = _consent(browser, page, base, _propose(page, base, "redeem", amount="2.5", redemption_reference="RED-1"),
                  chain.kind)
    assert client.token_balance(token, multisig) == held - REDEEM
    assert client.token_total_supply(token) == supply - REDEEM
    receipt = client.receipt(tx.relayer_tx_hash)
    assert receipt is not None
    assert client.events(contract_name="USDKG", address=token, event="Redeem", receipt=receipt) == [{"amount": REDEEM}]
    assert OwnerProposal.objects.filter(transaction__state=TxState.EXECUTED).count() == 4
