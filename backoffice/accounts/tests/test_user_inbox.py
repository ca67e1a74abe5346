"""Each user's inbox, on anvil with the production (USDKG) multisig: a signer sees what awaits their
approval with its place in the queue, a proposer where their proposals stand, an auditor their
audits, a custodian the deposits to confirm, an officer their cases; nobody sees anyone else's.
The API, the admin home's module and the header's count say the same."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from eth_account import Account
from rest_framework.test import APIClient

from backoffice.accounts.inbox import inbox_get
from backoffice.chain.client import chain_client
from backoffice.multisig.onchain import approval_call_prepare
from backoffice.multisig.tests.helpers import chain_index_until_head, issue_propose, wallet_send
from compliance.services import compliance_proposal_create
from compliance.tests.factories import case_for, officer
from issuance import services as issuance
from issuance.services.proposals import proposal_draft, proposal_propose
from issuance.tests.factories import bar_csv, deposit_make

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("chain", ["usdkg"], indirect=True)]

User = get_user_model()


def user(username: str) -> Any:
    return User.objects.get(username=username)


def inbox_api(username: str) -> dict[str, Any]:
    api = APIClient()
    api.force_authenticate(user(username))
    response = api.get("/api/inbox/")
    assert response.status_code == 200, response.content
    return dict(response.json())


def rows(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["kind"], item["reference"]) for item in body["items"]]


def test_each_user_sees_what_waits_for_them_and_nothing_of_anyone_else(chain: Any, gold_backing: Any) -> None:
    client, operator, tag = chain_client(), user("operator"), uuid.uuid4().hex[:6]
    holder = Account.create().address
    draft = proposal_draft(client=client, kind="issue", actor=operator, amount="1000", recipient=holder,
                           deposits=[gold_backing.pk])
    proposal = proposal_propose(client=client, proposal_id=draft.pk, actor=operator)
    issue_tx = proposal.transaction
    assert issue_tx is not None
    bare = issue_propose(2_000_000, holder)  # no proposal carries it: TX-000N
    case = case_for(Account.create().address)
    blacklist = compliance_proposal_create(client=client, case_id=case.pk, action="blacklist", actor=officer(1))
    audit = issuance.audit_plan(vault=gold_backing.vault, as_of=timezone.localdate(), auditor=user("auditor"),
                                firm="Assay LLP", actor=operator)
    incoming = deposit_make(operator=operator, vault=gold_backing.vault, reference=f"IN-{tag}",
                            csv=bar_csv([(f"IN{tag}01", "400.000", "999.9", "")]))

    owner1 = inbox_api("owner1")
    assert rows(owner1) == [("signature", proposal.reference), ("signature", bare.reference)]
    head, waiting = owner1["items"]
    assert proposal.reference.startswith("ISS-") and bare.reference == f"TX-{bare.pk:04d}"
    assert (head["note"], head["status"], head["url"]) == (
        "head of the queue", "Awaiting 3 more approvals", reverse("multisig:sign", args=[issue_tx.pk]))
    assert waiting["note"] == f"waits for nonce {bare.nonce} (the head is {issue_tx.nonce})"
    assert owner1["counts"]["signature"] == 2 and owner1["counts"]["action"] == 2

    # The operator proposed: no signature is theirs to give; their proposal and where it stands is.
    assert rows(inbox_api("operator")) == [("proposal", proposal.reference)]
    assert inbox_api("operator")["items"][0]["status"] == "Awaiting 3 more approvals"
    assert inbox_api("operator")["counts"]["action"] == 0
    # Officer 1 opened the case and proposed the blacklist (and signs it: all five officers sign).
    assert sorted(rows(inbox_api("officer1"))) == sorted(
        [("signature", blacklist.reference), ("proposal", blacklist.reference), ("case", f"Case #{case.pk}")])
    assert rows(inbox_api("officer2")) == [("signature", blacklist.reference)]
    assert rows(inbox_api("auditor")) == [("audit", f"Audit #{audit.pk}")]
    assert inbox_api("auditor")["items"][0]["url"] == reverse("admin:issuance_audit_change", args=[audit.pk])
    # The verified deposit backing the issue waits for nobody; the new one for the custodian's receipt.
    assert rows(inbox_api("custodian")) == [("deposit", incoming.reference)]
    assert inbox_api("custodian")["items"][0]["note"] == "Confirm received"
    assert rows(inbox_api("manager")) == []
    assert APIClient().get("/api/inbox/").status_code in (401, 403)
    schema_reader = APIClient()
    schema_reader.force_authenticate(User.objects.get(username="manager"))
    assert "/api/inbox/" in schema_reader.get("/api/schema/?format=json").json()["paths"]

    # Owner 1 approves on chain: it leaves their inbox, and owner 2 sees one approval fewer to go.
    wallet_send(approval_call_prepare(client=client, transaction_id=issue_tx.pk, actor=user("owner1")))
    chain_index_until_head()
    assert rows(inbox_api("owner1")) == [("signature", bare.reference)]
    owner2 = inbox_api("owner2")
    assert rows(owner2) == [("signature", proposal.reference), ("signature", bare.reference)]
    assert owner2["items"][0]["status"] == "Awaiting 2 more approvals"

    # The admin home's module and the header's count, for owner 2; nothing of it for the custodian's.
    browser = Client()
    browser.force_login(user("owner2"))
    page = browser.get("/admin/").content.decode()
    assert 'id="inbox"' in page and proposal.reference in page and "head of the queue" in page
    assert re.search(r'id="inbox-count"[^>]*>2</span>', page)
    assert reverse("multisig:sign", args=[issue_tx.pk]) in page
    browser.force_login(user("custodian"))
    page = browser.get("/admin/").content.decode()
    assert incoming.reference in page and proposal.reference not in page
    assert re.search(r'id="inbox-count"[^>]*>1</span>', page)


def test_the_inbox_costs_the_same_queries_however_many_items(chain: Any, gold_backing: Any) -> None:
    holder = Account.create().address
    issue_propose(1_000_000, holder)
    owner = user("owner1")
    owner = User.objects.get(pk=owner.pk)
    inbox_get(owner)  # the user's permission cache, as on any page after the first check
    with CaptureQueriesContext(connection) as one:
        assert len(inbox_get(owner).items) == 1
    for amount in (2_000_000, 3_000_000, 4_000_000):
        issue_propose(amount, holder)
    with CaptureQueriesContext(connection) as four:
        assert len(inbox_get(owner).items) == 4
    assert len(four.captured_queries) == len(one.captured_queries) <= 12
