"""Every refusal of the owner-proposal API, and of signing its transactions in the one transactions API,
says why and stores nothing: no Confirmation, no proposal,
no backing, and no journal entry except the 'multisig.signature_refused' one the multisig service
writes for a refused signature (its reason is the `detail` the caller reads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group

from backoffice.accounts.roles import Role
from backoffice.chain.devkeys import dev_account
from backoffice.chain.safetx import _SECP256K1_N
from backoffice.core.amounts import UINT256_MAX
from backoffice.journal.models import JournalEntry
from issuance.models import Deposit

from .test_proposals_api import (
    RECIPIENT,
    api,
    drafted,
    issue_body,
    owner_key,
    proposed,
    sign,
    signature_by,
    stored,
    transaction_url,
    typed_data_of,
    user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

OUTSIDER = dev_account(15)  # a key that is no owner of anything


def _journal_tip() -> int:
    last = JournalEntry.objects.order_by("-seq").first()
    return last.seq if last else 0


def assert_signature_refused(response: Any, message: str, *, tip: int, before: tuple[Any, ...],
                             by: str, transaction_id: int) -> None:
    """400 with the reason, nothing stored, and exactly one journal entry: the refusal, with that reason."""
    assert response.status_code == 400, response.content
    detail = response.json()["detail"]
    assert message in detail, detail
    assert stored()[:4] == before[:4]
    entries = list(JournalEntry.objects.filter(seq__gt=tip).order_by("seq"))
    assert [(e.action, e.actor_username, e.object_id, e.reason) for e in entries] == [
        ("multisig.signature_refused", by, str(transaction_id), detail)]


# --- signatures -------------------------------------------------------------------------------

def _outsider_key(proposal: dict[str, Any], others: dict[str, Any]) -> str:
    return signature_by(bytes(OUTSIDER.key), typed_data_of(proposal["id"]))


def _another_proposals_hash(proposal: dict[str, Any], others: dict[str, Any]) -> str:
    return signature_by(owner_key(1), typed_data_of(others["id"]))


def _another_chain(proposal: dict[str, Any], others: dict[str, Any]) -> str:
    typed = typed_data_of(proposal["id"])
    typed["domain"]["chainId"] = "1"  # the same SafeTx, replayable on mainnet if this were accepted
    return signature_by(owner_key(1), typed)


def _valid(proposal: dict[str, Any]) -> bytes:
    return bytes.fromhex(signature_by(owner_key(1), typed_data_of(proposal["id"]))[2:])


def _v_zero(proposal: dict[str, Any], others: dict[str, Any]) -> str:
    raw = _valid(proposal)
    return "0x" + (raw[:64] + b"\x00").hex()


def _high_s(proposal: dict[str, Any], others: dict[str, Any]) -> str:
    # The malleable twin: (r, n - s) with the other v recovers the same key, yet is a different byte
    # string; accepting it would let one owner's approval be counted as if it were new.
    raw = _valid(proposal)
    s = int.from_bytes(raw[32:64], "big")
    return "0x" + (raw[:32] + (_SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - raw[64]])).hex()


BAD_SIGNATURES: dict[str, tuple[Callable[[dict[str, Any], dict[str, Any]], str], str]] = {
    "by-a-key-that-is-no-owner": (_outsider_key, f"the signature is by {OUTSIDER.address}, not by your bound "
                                                 f"address {dev_account(1).address}"),
    "over-another-proposals-hash": (_another_proposals_hash, "not by your bound address"),
    "for-another-chain-id": (_another_chain, "not by your bound address"),
    "short": (lambda p, o: "0x" + "ab" * 64, "malformed signature: a signature is 65 bytes, this one is 64"),
    "not-hex": (lambda p, o: "0x" + "zz" * 65, "malformed signature: the signature is not hexadecimal"),
    "v-zero": (_v_zero, "malformed signature: v must be 27 or 28 for an EIP-712 signature, not 0"),
    "high-s": (_high_s, "malformed signature: r or s is out of range (non-canonical signature)"),
}


@pytest.mark.parametrize("case", BAD_SIGNATURES)
def test_a_bad_signature_is_refused_with_its_reason_and_only_the_refusal_is_journalled(
    case: str, chain: Any, gold_backing: Deposit
) -> None:
    proposal = proposed(gold_backing, amount="100")
    others = proposed(gold_backing, amount="200")
    make, message = BAD_SIGNATURES[case]
    signature = make(proposal, others)
    before, tip = stored(), _journal_tip()
    response = sign(proposal["id"], 1, signature=signature)
    assert_signature_refused(response, message, tip=tip, before=before, by="owner1",
                             transaction_id=proposal["transaction"]["id"])
    # The owner's real signature is still welcome afterwards: a refusal leaves no trace on the transaction.
    accepted = sign(proposal["id"], 1)
    assert accepted.status_code == 201 and len(accepted.json()["confirmations"]) == 1


def test_the_proposer_cannot_sign_their_own_proposal_even_as_an_owner(chain: Any, gold_backing: Deposit) -> None:
    owner1 = user("owner1")
    owner1.groups.add(Group.objects.get(name=Role.OPERATOR))  # one person, both roles: four eyes must still hold
    proposal = proposed(gold_backing, by="owner1")
    assert proposal["created_by"] == "owner1"
    before, tip = stored(), _journal_tip()
    response = sign(proposal["id"], 1)
    assert_signature_refused(response, "you proposed this transaction; another owner must sign it (four eyes)",
                             tip=tip, before=before, by="owner1", transaction_id=proposal["transaction"]["id"])


def test_a_second_signature_by_the_same_owner_is_refused(chain: Any, gold_backing: Deposit) -> None:
    proposal = proposed(gold_backing)
    assert sign(proposal["id"], 1).status_code == 201
    before, tip = stored(), _journal_tip()
    response = sign(proposal["id"], 1)
    assert response.status_code == 400
    assert response.json()["detail"] == "you have already signed this transaction"
    assert stored()[:4] == before[:4]
    # The service writes this refusal's journal entry inside the atomic block it then leaves by raising,
    # so the entry is rolled back with it; see test below.
    assert JournalEntry.objects.filter(seq__gt=tip).exclude(action="multisig.signature_refused").count() == 0


def test_a_second_signature_by_the_same_owner_is_journalled_as_refused(chain: Any, gold_backing: Deposit) -> None:
    proposal = proposed(gold_backing)
    assert sign(proposal["id"], 1).status_code == 201
    before, tip = stored(), _journal_tip()
    response = sign(proposal["id"], 1)
    assert_signature_refused(response, "you have already signed this transaction", tip=tip, before=before,
                             by="owner1", transaction_id=proposal["transaction"]["id"])


def test_a_compliance_officer_posting_a_signature_is_refused_and_nothing_is_recorded(
    chain: Any, gold_backing: Deposit
) -> None:
    proposal = proposed(gold_backing)
    # Even a signature that is valid in itself (an officer's key over this very typed data).
    signature = signature_by(bytes(dev_account(8).key), typed_data_of(proposal["id"]))
    before = stored()
    response = api("officer1").post(transaction_url(proposal["id"]) + "signatures/", {"signature": signature},
                                    format="json")
    # The issuance multisig's transactions are not the officer's to see: as if there were none.
    assert response.status_code == 404
    assert stored() == before  # not even a journal entry: the service was never reached


# --- drafts -----------------------------------------------------------------------------------

TOO_BIG_IN_BASE_UNITS = str(UINT256_MAX // 10**6 + 1)  # fits uint256 as tokens, not as base units

BAD_DRAFTS: dict[str, tuple[dict[str, Any], str]] = {
    "seven-decimals": ({"amount": "1.1234567"}, ("amount: '1.1234567' has more than 6 decimals (at most 6 decimals: "
                                            "one base unit is 0.000001)")),
    "zero": ({"amount": "0"}, "amount: must be above zero"),
    "zero-with-decimals": ({"amount": "0.000000"}, "amount: must be above zero"),
    "negative": ({"amount": "-5"}, "amount: must be above zero"),
    "above-uint256": ({"amount": TOO_BIG_IN_BASE_UNITS},
                      "amount: above the largest amount the token can hold (uint256)"),
    "above-the-headroom": ({"amount": "100000000"}, "issuing 100,000,000.000000 exceeds the headroom of "),
    "a-json-integer": ({"amount": 1250}, 'amount: send the amount as a string in plain decimal notation'),
    "a-json-float": ({"amount": 1250.5}, 'amount: send the amount as a string in plain decimal notation'),
    "an-exponent": ({"amount": "1e3"}, "amount: '1e3' has an exponent; write the number out in full"),
    "a-decimal-comma": ({"amount": "1,5"}, "amount: '1,5': use a point for decimals (1.5), not a comma"),
    "misplaced-separators": ({"amount": "1,2345.0"}, "amount: '1,2345.0' has misplaced thousands separators"),
    "no-amount": ({"amount": None}, "amount: required for an issue or a redemption"),
    "lower-case-recipient": ({"recipient": RECIPIENT.lower()},
                             f"recipient: '{RECIPIENT.lower()}' is not checksummed (EIP-55); did you mean "
                             f"{RECIPIENT}?"),
    "not-an-address": ({"recipient": "alice.eth"},
                       "recipient: 'alice.eth' is not an address (0x followed by 40 hexadecimal digits)"),
    "zero-address": ({"recipient": "0x0000000000000000000000000000000000000000"},
                     "recipient: the zero address cannot receive tokens"),
    "no-deposit": ({"deposits": []}, "deposits: choose the audited deposits whose gold backs this issue"),
    "unknown-kind": ({"kind": "mint"}, 'kind: "mint" is not a valid choice.'),
}


@pytest.mark.parametrize("case", BAD_DRAFTS)
def test_a_bad_draft_is_refused_with_a_clear_message_and_nothing_is_stored(
    case: str, chain: Any, gold_backing: Deposit
) -> None:
    overrides, message = BAD_DRAFTS[case]
    before = stored()
    response = api("operator").post("/api/proposals/", issue_body(gold_backing, **overrides), format="json")
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"], response.json()
    assert stored() == before  # no proposal, no backing, no journal entry


def test_the_headroom_counts_drafts_already_asked(chain: Any, gold_backing: Deposit) -> None:
    # Two drafts that each fit but together do not: the second is refused, the first stays as it was.
    half = drafted(gold_backing, amount="6000000")
    before = stored()
    response = api("operator").post("/api/proposals/", issue_body(gold_backing, amount="6000000"), format="json")
    assert response.status_code == 400
    assert "exceeds the headroom" in response.json()["detail"]
    assert "pending issues 6,000,000.000000" in response.json()["detail"]
    assert stored() == before and half["status"] == "draft"
