"""One number per proposal (ISS-0003) on every admin page, message, export and API answer; proposing asks
for confirmation saying what the owners will be asked; "Save and propose" drafts and proposes at once."""

import csv
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import MultisigRole
from issuance.models import OwnerProposal, ProposalState

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

RECIPIENT = dev_account(17).address


def _admin(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def _add(client: Client, gold_backing, **extra):
    data = {"kind": "issue", "amount": "1,000", "recipient": RECIPIENT, "deposits": [gold_backing.pk], "memo": "",
            "redemption_reference": "", "fee_basis_points": "", **extra}
    return client.post("/admin/issuance/ownerproposal/add/", data, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_save_and_propose_drafts_and_proposes_in_one_step(chain, gold_backing):
    operator = _admin("operator")
    assert 'name="_saveandpropose"' in operator.get("/admin/issuance/ownerproposal/add/").content.decode()
    response = _add(operator, gold_backing, _saveandpropose="Save and propose to the owners")
    proposal = OwnerProposal.objects.get()
    assert proposal.state == ProposalState.PROPOSED and proposal.transaction is not None
    assert response.redirect_chain[-1][0] == f"/admin/issuance/ownerproposal/{proposal.pk}/change/"
    assert _messages(response) == [f"{proposal.reference} drafted and proposed to the owners: "
                                   f"{proposal.transaction.status_label}."]
    assert re.fullmatch(r"ISS-\d{4}", proposal.reference)


def test_a_plain_save_keeps_a_draft_and_proposing_it_asks_first_saying_what_the_owners_are_asked(chain, gold_backing):
    operator = _admin("operator")
    response = _add(operator, gold_backing, _save="Save")
    proposal = OwnerProposal.objects.get()
    ref = proposal.reference
    assert proposal.state == ProposalState.DRAFT
    assert _messages(response) == [f"{ref} saved as a draft; propose it to the owners from its page."]

    change = f"/admin/issuance/ownerproposal/{proposal.pk}/change/"
    confirm = operator.post(change, {"_fsm_transition_to": "propose"})
    assert confirm["Location"] == f"/admin/issuance/ownerproposal/{proposal.pk}/transition/propose/"
    safe = deployment_get().multisig(MultisigRole.ISSUANCE).address
    client = chain_client()
    owners = f"{client.safe_threshold(safe)} of {len(client.safe_owners(safe))} owners must approve"
    page = operator.get(confirm["Location"]).content.decode()
    assert f"Propose {ref} to the owners: issue 1,000.000000 USDKG to {RECIPIENT}; {owners}." in page
    journal = JournalEntry.objects.count()
    refused = operator.post(confirm["Location"], {})  # not the confirmation page's own POST: nothing happens
    assert refused.status_code == 200 and "Not confirmed: nothing was done." in refused.content.decode()
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.DRAFT and JournalEntry.objects.count() == journal

    done = operator.post(confirm["Location"], {"confirmed": "True"}, follow=True)
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PROPOSED
    assert _messages(done) == [f"{ref}: proposed to the owners."]


def test_the_reference_names_the_proposal_in_lists_titles_exports_and_the_api(chain, gold_backing):
    operator = _admin("operator")
    _add(operator, gold_backing, _saveandpropose="Save and propose to the owners")
    proposal = OwnerProposal.objects.get()
    ref, tx = proposal.reference, proposal.transaction
    manager = _admin("manager")

    listing = manager.get("/admin/issuance/ownerproposal/").content.decode()
    assert re.search(rf'<th class="field-reference_display"><a href="/admin/issuance/ownerproposal/{proposal.pk}/'
                     rf'change/[^"]*">{ref}</a></th>', listing)
    assert tx.status_label in listing
    page = manager.get(f"/admin/issuance/ownerproposal/{proposal.pk}/change/").content.decode()
    assert f"<h1>{ref}</h1>" in page and f"<title>{proposal} | {ref} |" in page

    transactions = manager.get("/admin/multisig/multisigtransaction/").content.decode()
    assert re.search(rf'<a href="/admin/multisig/multisigtransaction/{tx.pk}/change/[^"]*">{ref}</a>', transactions)

    rows = list(csv.DictReader(io.StringIO(b"".join(manager.get("/admin/issuance/ownerproposal/export/")
                                                    .streaming_content).decode())))
    assert {r["proposal"] for r in rows} == {ref} and {r["nonce"] for r in rows} == {str(tx.nonce)}

    api = APIClient()
    api.force_authenticate(get_user_model().objects.get(username="manager"))
    body = api.get(f"/api/proposals/{proposal.pk}/").json()
    assert (body["id"], body["reference"], body["status_label"]) == (proposal.pk, ref, tx.status_label)
    assert (body["transaction"]["reference"], body["transaction"]["nonce"]) == (ref, tx.nonce)
