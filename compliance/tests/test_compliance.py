"""Compliance on a real anvil: five of five officers, guard rails, the register and screening."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from backoffice.chain.client import chain_client, relayer_account
from backoffice.chain.devkeys import dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import tokens_format
from backoffice.journal.models import JournalEntry
from backoffice.journal.services import TransitionRefused
from backoffice.multisig.models import Confirmation, MultisigTransaction, TxState
from backoffice.multisig.services import (
    SignatureRefused,
    confirmation_add,
    multisig_transaction_broadcast,
    multisig_transaction_propose,
    safe_tx_of,
)
from compliance import services
from compliance.models import Case, ComplianceProposal, FrozenAddress, ScreeningEntry
from compliance.selectors import screening_hits
from issuance.services import InvalidInput
from issuance.tests.factories import issue_on_chain

from .factories import case_for, execute_here, holder_fresh, officer, officer_sign, transfer_from

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _fresh() -> str:
    """An address no other test touches: the session's chain state is shared, its database is not."""
    from eth_account import Account

    return Account.create().address


def _blacklisted_holder(amount: int) -> tuple[str, Case]:
    """A fresh address holding `amount` base units, blacklisted on chain by the five officers."""
    holder = _fresh()
    issue_on_chain(amount=amount, recipient=holder)
    case = case_for(holder)
    blacklist = services.compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                                    actor=officer(1))
    for n in (1, 2, 3, 4, 5):
        officer_sign(blacklist.transaction, n)
    execute_here(blacklist.transaction)
    return holder, case


def _nothing_changed_since(counts):
    return (Case.objects.count(), ComplianceProposal.objects.count(), MultisigTransaction.objects.count(),
            JournalEntry.objects.count()) == counts


def _counts():
    return (Case.objects.count(), ComplianceProposal.objects.count(), MultisigTransaction.objects.count(),
            JournalEntry.objects.count())


def test_blacklist_destroy_and_unblacklist_with_five_signatures_each(chain, gold_backing):
    client, token = chain_client(), deployment_get().token
    holder = holder_fresh()
    issue_on_chain(amount=5_000_000_000, recipient=holder)  # 5,000 USDKG
    case = case_for(holder)

    proposal = services.compliance_proposal_create(client=client, case_id=case.pk, action="blacklist",
                                                   actor=officer(1))
    for n in (1, 2, 3, 4, 5):  # the proposer signs too: five of five
        officer_sign(proposal.transaction, n)
    execute_here(proposal.transaction)
    entry = FrozenAddress.objects.get(address=holder)
    assert (entry.expected_blacklisted, entry.on_chain_blacklisted, entry.mismatch) == (True, True, False)
    assert client.token_is_blacklisted(token, holder)
    with pytest.raises(Exception, match="blacklisted"):
        transfer_from(holder, dev_account(17).address, 1)

    balance, supply = client.token_balance(token, holder), client.token_total_supply(token)
    with pytest.raises(InvalidInput, match="is not the balance to burn"):
        services.compliance_proposal_create(client=client, case_id=case.pk, action="destroy_funds",
                                            actor=officer(2), confirm_amount="4999.999999")
    destroy = services.compliance_proposal_create(client=client, case_id=case.pk, action="destroy_funds",
                                                  actor=officer(2), confirm_amount="5000")
    assert destroy.transaction.decoded["tokens"] == "5,000.000000"
    for n in (1, 2, 3, 4, 5):
        officer_sign(destroy.transaction, n)
    receipt_tx = execute_here(destroy.transaction)
    assert client.token_balance(token, holder) == 0
    assert client.token_total_supply(token) == supply - balance
    events = client.events(contract_name="USDKG", address=token, event="DestroyedBlackFunds",
                           receipt=client.receipt(receipt_tx.relayer_tx_hash))
    assert events == [{"_blackListedUser": holder, "_balance": balance}]

    unblacklist = services.compliance_proposal_create(client=client, case_id=case.pk, action="unblacklist",
                                                      actor=officer(3))
    for n in (1, 2, 3, 4, 5):
        officer_sign(unblacklist.transaction, n)
    execute_here(unblacklist.transaction)
    assert not client.token_is_blacklisted(token, holder)
    FrozenAddress.objects.get(address=holder)
    issue_on_chain(amount=2_000_000, recipient=holder)
    assert transfer_from(holder, dev_account(17).address, 1_000_000)["status"] == 1


def test_four_signatures_never_execute(chain):
    client = chain_client()
    address = _fresh()
    case = case_for(address)
    proposal = services.compliance_proposal_create(client=client, case_id=case.pk, action="blacklist",
                                                   actor=officer(1))
    for n in (1, 2, 3, 4):
        officer_sign(proposal.transaction, n)
    relayer_nonce = client.account_nonce(relayer_account().address)
    tx = multisig_transaction_broadcast(client=client, transaction_id=proposal.transaction.pk)
    assert tx.state == TxState.AWAITING_SIGNATURES and tx.relayer_tx_hash == ""
    assert client.account_nonce(relayer_account().address) == relayer_nonce
    assert not client.token_is_blacklisted(deployment_get().token, address)


def test_an_owner_who_is_not_an_officer_cannot_sign(chain):
    from django.contrib.auth import get_user_model
    from eth_account import Account

    client = chain_client()
    case = case_for(dev_account(16).address)
    proposal = services.compliance_proposal_create(client=client, case_id=case.pk, action="blacklist",
                                                   actor=officer(1))
    tx = proposal.transaction
    typed = safe_tx_of(tx).typed_data(chain_id=tx.chain_id, safe_address=tx.safe_address)
    signature = Account.sign_typed_data(dev_account(1).key, full_message=typed).signature  # owner1's key
    with pytest.raises(SignatureRefused, match="not a signer of the compliance multisig"):
        confirmation_add(client=client, transaction_id=tx.pk, signature=signature,
                         actor=get_user_model().objects.get(username="owner1"))
    assert not Confirmation.objects.filter(transaction=tx).exists()


@pytest.mark.parametrize("target", ["zero", "issuance", "compliance", "token", "relayer", "lowercase"])
def test_guard_rails_refuse_the_systems_own_addresses(chain, target):
    d = deployment_get()
    address = {"zero": "0x" + "0" * 40, "issuance": d.issuance_multisig, "compliance": d.compliance_multisig,
               "token": d.token, "relayer": relayer_account().address,
               "lowercase": dev_account(16).address.lower()}[target]
    before = _counts()
    with pytest.raises(InvalidInput):
        services.case_open(address=address, category="other", reference="R", description="D", actor=officer(1))
    assert _nothing_changed_since(before)


def test_blacklist_of_a_blacklisted_and_unblacklist_of_a_free_address_are_refused(chain):
    client = chain_client()
    free = case_for(_fresh())
    before = _counts()
    with pytest.raises(InvalidInput, match="is not blacklisted on chain"):
        services.compliance_proposal_create(client=client, case_id=free.pk, action="unblacklist", actor=officer(1))
    with pytest.raises(InvalidInput, match="is not blacklisted on chain"):
        services.compliance_proposal_create(client=client, case_id=free.pk, action="destroy_funds",
                                            actor=officer(1), confirm_amount="1")
    assert _nothing_changed_since(before)

    listed = case_for(_fresh())
    proposal = services.compliance_proposal_create(client=client, case_id=listed.pk, action="blacklist",
                                                   actor=officer(1))
    for n in (1, 2, 3, 4, 5):
        officer_sign(proposal.transaction, n)
    execute_here(proposal.transaction)
    before = _counts()
    with pytest.raises(InvalidInput, match="already blacklisted on chain"):
        services.compliance_proposal_create(client=client, case_id=listed.pk, action="blacklist", actor=officer(2))
    with pytest.raises(InvalidInput, match="holds no tokens"):
        services.compliance_proposal_create(client=client, case_id=listed.pk, action="destroy_funds",
                                            actor=officer(2), confirm_amount="0")
    assert _nothing_changed_since(before)


def test_destroy_funds_is_confirmed_by_the_balance_typed_exactly_as_the_case_page_shows_it(chain, gold_backing):
    client, token = chain_client(), deployment_get().token
    holder, case = _blacklisted_holder(250_000_123_456)
    shown = tokens_format(client.token_balance(token, holder))
    assert shown == "250,000.123456"  # what the case page and the propose page display

    before = _counts()
    refusals = {
        "1,5": "confirmation: '1,5': use a point for decimals (1.5), not a comma",
        "1,2345.0": "confirmation: '1,2345.0' has misplaced thousands separators",
        "abc": "confirmation: 'abc' is not a number; write digits with a point for decimals, e.g. 1234.5",
        "250,000.12345": "the confirmation 250,000.123450 is not the balance to burn, 250,000.123456",
    }
    for typed, message in refusals.items():
        with pytest.raises(InvalidInput) as refused:
            services.compliance_proposal_create(client=client, case_id=case.pk, action="destroy_funds",
                                                actor=officer(2), confirm_amount=typed)
        assert message in str(refused.value), typed
    assert _nothing_changed_since(before)

    destroy = services.compliance_proposal_create(client=client, case_id=case.pk, action="destroy_funds",
                                                  actor=officer(2), confirm_amount=shown)
    assert int(destroy.balance_confirmed or 0) == 250_000_123_456
    assert destroy.transaction.decoded["tokens"] == shown


def test_a_second_open_proposal_for_the_same_address_and_action_is_refused(chain):
    client = chain_client()
    case = case_for(_fresh())
    services.compliance_proposal_create(client=client, case_id=case.pk, action="blacklist", actor=officer(1))
    before = _counts()
    with pytest.raises(InvalidInput, match="open blacklist proposal .* already exists"):
        services.compliance_proposal_create(client=client, case_id=case.pk, action="blacklist", actor=officer(2))
    assert _nothing_changed_since(before)


def test_only_officers_open_cases_and_propose(chain):
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    before = _counts()
    for name in ("owner1", "operator", "manager", "custodian", "auditor"):
        with pytest.raises(TransitionRefused):
            services.case_open(address=dev_account(16).address, category="other", reference="R", description="D",
                               actor=users.get(username=name))
    assert _nothing_changed_since(before)


def test_the_register_flags_a_mismatch_with_the_chain(chain):
    """Our register expects the address blacklisted; a transaction executed outside our proposals
    (here: straight through the multisig kernel) lifts it on chain. The refresh must flag it."""
    client, token = chain_client(), deployment_get().token
    address = _fresh()
    case = case_for(address)
    proposal = services.compliance_proposal_create(client=client, case_id=case.pk, action="blacklist",
                                                   actor=officer(1))
    for n in (1, 2, 3, 4, 5):
        officer_sign(proposal.transaction, n)
    execute_here(proposal.transaction)
    assert not FrozenAddress.objects.get(address=address).mismatch

    rogue = multisig_transaction_propose(client=client, multisig="compliance", to=token,
                                         data=client.token_calldata("removeBlackList", address),
                                         decoded={"function": "removeBlackList", "user": address}, actor=officer(1))
    for n in (1, 2, 3, 4, 5):
        officer_sign(rogue, n)
    execute_here(rogue)
    entry = services.register_refresh(client=client, address=address)
    assert (entry.expected_blacklisted, entry.on_chain_blacklisted, entry.mismatch) == (True, False, True)
    assert JournalEntry.objects.filter(action="compliance.register.mismatch", object_id=str(entry.pk)).exists()


def test_screening_import_lists_holders_that_are_not_blacklisted(chain, gold_backing):
    client = chain_client()
    from eth_account import Account

    holder, empty = dev_account(16).address, Account.create().address  # a fresh address holds nothing
    issue_on_chain(amount=1_000_000, recipient=holder)
    csv = f"address,name\n{holder.lower()},Holder Ltd\n{empty},Nobody\n"
    batch = services.screening_import(upload=SimpleUploadedFile("ofac.csv", csv.encode()), source="OFAC",
                                      list_name="SDN", listed_on=timezone.localdate(), actor=officer(1))
    assert batch.rows == 2 and ScreeningEntry.objects.filter(address=holder).exists()
    hits = screening_hits(client=client)
    assert [h.address for h in hits] == [holder] and hits[0].balance >= 1_000_000 and hits[0].lists == ["SDN"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("address\n0x123\n", r"row 2: '0x123' is not an address"),
        (f"address\n{dev_account(16).address}\n{dev_account(16).address.lower()}\n", "row 3: .* repeats row 2"),
        ("name\nfoo\n", "'address' column"),
        ("", "screening list file is missing or empty"),
        (f"address,name\n{dev_account(16).address},Holder\x00Ltd\n", r"row 2: contains a NUL character \(byte 0\)"),
        (f"address,na\x00me\n{dev_account(16).address},Holder Ltd\n", r"row 1: contains a NUL character"),
    ],
)
def test_a_bad_screening_list_is_refused_whole(chain, content, message):
    before = (ScreeningEntry.objects.count(), JournalEntry.objects.count())
    with pytest.raises(InvalidInput, match=message):
        services.screening_import(upload=SimpleUploadedFile("l.csv", content.encode()), source="OFAC",
                                  list_name="SDN", listed_on=timezone.localdate(), actor=officer(1))
    assert (ScreeningEntry.objects.count(), JournalEntry.objects.count()) == before


def test_a_screening_row_with_more_cells_than_the_header_is_imported_without_them(chain):
    address = _fresh()
    batch = services.screening_import(upload=SimpleUploadedFile("l.csv", f"address,name\n{address},Ltd,\n".encode()),
                                      source="OFAC", list_name="SDN", listed_on=timezone.localdate(),
                                      actor=officer(1))
    assert list(batch.entries.values_list("address", "name")) == [(address, "Ltd")]


def test_destroy_funds_is_refused_before_sending_when_the_balance_changed_and_the_nonce_is_burned(
    chain, gold_backing
):
    """More tokens reach the blacklisted address after the officers confirmed its balance: the guard
    refuses to burn what they did not see, and a rejection is proposed so their signatures die."""
    client, token = chain_client(), deployment_get().token
    holder, case = _blacklisted_holder(2_000_000)
    destroy = services.compliance_proposal_create(client=client, case_id=case.pk, action="destroy_funds",
                                                  actor=officer(1), confirm_amount="2")
    for n in (1, 2, 3, 4, 5):
        officer_sign(destroy.transaction, n)
    issue_on_chain(amount=500_000, recipient=holder)  # a blacklisted address can still receive

    tx = multisig_transaction_broadcast(client=client, transaction_id=destroy.transaction.pk)
    assert tx.state == TxState.FAILED and "the officers confirmed 2.000000" in tx.failure_reason
    assert client.token_balance(token, holder) == 2_500_000  # nothing burned
    rejection = MultisigTransaction.objects.get(replaces=tx)
    assert (rejection.nonce, rejection.state, rejection.decoded["function"]) == (tx.nonce, "awaiting_signatures",
                                                                                 "rejection")
