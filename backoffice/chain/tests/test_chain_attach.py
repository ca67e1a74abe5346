"""`chain_attach` on contracts deployed OUTSIDE the product (plain web3 calls, as the issuer's own
deployment would be): it records them, and the whole issue flow then works on them. Refusals record
nothing."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from eth_account import Account
from web3 import Web3

from backoffice.chain.client import artifact, chain_client
from backoffice.chain.devkeys import OFFICER_INDEXES, OWNER_INDEXES, dev_account
from backoffice.chain.models import Deployment, Multisig
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import TxState
from backoffice.multisig.tests.helpers import consent_and_execute

pytestmark = [pytest.mark.integration]


def _deploy(w3: Web3, name: str, *args: Any) -> str:
    data = artifact(name)
    factory = w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
    tx_hash = factory.constructor(*args).transact({"from": w3.eth.accounts[0]})
    return str(w3.eth.wait_for_transaction_receipt(tx_hash)["contractAddress"])


def _state() -> tuple[Any, ...]:
    return (list(Deployment.objects.values_list("chain_id", "token")),
            list(Multisig.objects.values_list("address", "kind")), JournalEntry.objects.count())


@pytest.mark.parametrize("chain", ["usdkg"], indirect=True)
def test_contracts_deployed_outside_are_attached_and_the_issue_flow_works_on_them(chain: Any, gold_backing: Any
                                                                                    ) -> None:
    w3 = chain_client().w3
    owners = [dev_account(i).address for i in OWNER_INDEXES]
    officers = [dev_account(i).address for i in OFFICER_INDEXES]
    issuance = _deploy(w3, "USDKGMultisig", owners, 3)
    compliance = _deploy(w3, "USDKGMultisig", officers, 5)
    token = _deploy(w3, "USDKG", issuance, compliance)

    out = StringIO()
    call_command("chain_attach", "--token", token, "--replace", stdout=out)
    d = Deployment.objects.get()
    assert d.token == token and "attached" in out.getvalue()
    assert d.block_hash == chain_client().block_hash(d.block_number)
    rows = {m.role: m for m in d.multisigs.all()}
    assert (rows["issuance"].address, rows["issuance"].kind, rows["issuance"].threshold) == (issuance, "usdkg", 3)
    assert rows["issuance"].owners == owners and rows["compliance"].owners == officers
    assert (rows["compliance"].address, rows["compliance"].threshold) == (compliance, 5)
    assert JournalEntry.objects.filter(action="chain.attached").exists()

    # The whole issue flow on them: the operator drafts and proposes, three owners approve on chain,
    # the last one executes; the chain says the tokens exist.
    from django.contrib.auth import get_user_model

    from issuance.services import proposal_draft, proposal_propose

    client, recipient = chain_client(), Account.create().address
    operator = get_user_model().objects.get(username="operator")
    draft = proposal_draft(client=client, kind="issue", actor=operator, amount="3", recipient=recipient,
                           deposit_ids=[gold_backing.pk], memo="attached contracts")
    proposal = proposal_propose(client=client, proposal_id=draft.pk, actor=operator)
    assert proposal.transaction is not None and proposal.transaction.safe_address == issuance
    tx = consent_and_execute(proposal.transaction, ["owner1", "owner2", "owner3"])
    assert tx.state == TxState.EXECUTED
    assert client.token_balance(token, recipient) == 3_000_000 and client.token_total_supply(token) == 3_000_000


@pytest.mark.parametrize("chain", ["usdkg"], indirect=True)
def test_chain_attach_refuses_what_does_not_fit_and_records_nothing(chain: Any) -> None:
    w3 = chain_client().w3
    plain = Account.create().address
    # A token whose owner is a plain account (no multisig), and a token whose owner is not a known kind.
    token_of_eoa = _deploy(w3, "USDKG", plain, Account.create().address)
    token_of_token = _deploy(w3, "USDKG", token_of_eoa, Account.create().address)
    d = Deployment.objects.get()
    another = _deploy(w3, "USDKG", d.issuance_multisig, d.compliance_multisig)  # valid, but not the recorded one
    before = _state()
    for token, message in ((plain, "has no code"), ("0x1234", "is not an address"),
                           (token_of_eoa, "is neither a Safe nor a USDKG multisig"),
                           (token_of_token, "is neither a Safe nor a USDKG multisig"),
                           (another, "already has token")):
        with pytest.raises(CommandError, match=message):
            call_command("chain_attach", "--token", token, stdout=StringIO())
        assert _state() == before, token
    with override_settings(CHAIN_ID=1), pytest.raises(CommandError, match="serves chain id 31337, but CHAIN_ID is 1"):
        call_command("chain_attach", "--token", chain.deployment_values["token"], stdout=StringIO())
    assert _state() == before


@pytest.mark.parametrize("chain", ["safe", "usdkg"], indirect=True)
def test_the_recipient_of_an_issue_is_indexed_from_the_executed_call(chain: Any, gold_backing: Any) -> None:
    """`Issue(amount)` names no recipient; the watcher reads it from the multisig's executed call, on
    both kinds (Safe's execTransaction carries signatures, the USDKG multisig's does not)."""
    from backoffice.chain.models import ChainEvent
    from backoffice.multisig.tests.helpers import chain_index_until_head, issue_propose

    recipient = Account.create().address
    tx = consent_and_execute(issue_propose(4_000_000, recipient), ["owner1", "owner2", "owner3"])
    chain_index_until_head()
    issue = ChainEvent.objects.get(name="Issue", tx_hash=tx.relayer_tx_hash)
    assert issue.args == {"amount": "4000000", "to": recipient}


@pytest.mark.parametrize("chain", ["usdkg"], indirect=True)
def test_the_admin_shows_how_far_the_watcher_has_come(chain: Any, admin_client: Any) -> None:
    from backoffice.chain.models import IndexCursor
    from backoffice.chain.watcher import chain_index_step

    d = Deployment.objects.get()
    provider: Any = chain_client().w3.provider
    for _ in range(3):
        provider.make_request("evm_mine", [])
    head = chain_client().block_number()
    step = chain_index_step(client=chain_client(), max_blocks=1)  # one block of a longer catch-up
    assert step.to_block == d.block_number < head
    page = admin_client.get("/admin/chain/indexcursor/").content.decode()
    cursor = IndexCursor.objects.get()
    share = 100 // (head - d.block_number + 1)
    assert f"block {cursor.block_number} of {head} ({share} %)" in page
