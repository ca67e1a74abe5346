"""The manager's history on anvil: an address's timeline shows the owner proposal paying it, its owners'
on-chain approvals, the Issue and the transfers in and out, newest first, each linking to its object;
an object's timeline shows its journal entries, approvals (time, signer, block, hash) and the execution.
Only managers see them; a bad address is refused with a message and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from eth_account import Account
from eth_utils import to_checksum_address
from rest_framework.test import APIClient
from web3.types import Nonce, TxParams, Wei

from backoffice.chain.client import artifact, chain_client
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import TxState
from backoffice.multisig.tests.helpers import chain_index_until_head, consent_and_execute

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("chain", ["usdkg"], indirect=True)]

User = get_user_model()
OWNERS = ["owner1", "owner2", "owner3"]


def _api(username: str) -> APIClient:
    api = APIClient()
    api.force_authenticate(User.objects.get(username=username))
    return api


def _page(username: str) -> Client:
    page = Client()
    page.force_login(User.objects.get(username=username))
    return page


@pytest.fixture
def issued(chain: Any, gold_backing: Any) -> dict[str, Any]:
    """An issue of 5 tokens to a new address through an owner proposal, then 2 tokens sent on from it."""
    from issuance.services.proposals import proposal_draft, proposal_propose

    client, holder, other = chain_client(), Account.create(), Account.create().address
    operator = User.objects.get(username="operator")
    proposal = proposal_draft(client=client, kind="issue", actor=operator, amount="5", recipient=holder.address,
                              deposit_ids=[gold_backing.pk])
    proposal = proposal_propose(client=client, proposal_id=proposal.pk, actor=operator)
    assert proposal.transaction is not None
    assert consent_and_execute(proposal.transaction, OWNERS).state == TxState.EXECUTED
    w3 = client.w3
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(
        {"from": w3.eth.accounts[0], "to": holder.address, "value": Wei(10**17)}))
    token = w3.eth.contract(address=to_checksum_address(deployment_get().token), abi=artifact("USDKG")["abi"])
    params: TxParams = {"from": holder.address, "nonce": Nonce(0), "chainId": w3.eth.chain_id, "gas": 200_000,
                        "maxFeePerGas": Wei(10**10), "maxPriorityFeePerGas": Wei(10**9)}
    call = token.functions.transfer(other, 2_000_000).build_transaction(params)
    signed = holder.sign_transaction(call)
    assert w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))["status"] == 1
    chain_index_until_head()
    proposal.refresh_from_db()
    return {"proposal": proposal, "holder": holder.address, "other": other}


def test_address_timeline_shows_proposal_approvals_issue_and_transfers_newest_first(issued: dict[str, Any]) -> None:
    proposal, holder = issued["proposal"], issued["holder"]
    tx = proposal.transaction
    answer = _api("manager").get(f"/api/addresses/{holder.lower()}/timeline/")
    assert answer.status_code == 200, answer.content
    assert answer.json()["address"] == holder  # checksummed, whatever case was asked
    items = answer.json()["items"]
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)
    titles = [i["title"] for i in items]

    ours = next(i for i in items if i["kind"] == "proposal")
    assert ours["url"] == f"/admin/issuance/ownerproposal/{proposal.pk}/change/"
    approvals = [i for i in items if i["kind"] == "approval"]
    assert {i["actor"] for i in approvals} == set(OWNERS)
    assert all(i["block"] and i["tx_hash"].startswith("0x") and i["url"] == f"/multisig/{tx.pk}/" for i in approvals)
    issue = next(i for i in items if i["title"].startswith("Issue "))
    assert issue["url"] == f"/multisig/{tx.pk}/" and issue["tx_hash"] == tx.relayer_tx_hash
    assert issue["block"] == tx.block_number and f"to={holder}" in issue["detail"]
    (out,) = [i for i in items if i["title"].startswith("Transfer ")]  # the issue itself emits only Issue
    assert f"from={holder}" in out["detail"] and f"to={issued['other']}" in out["detail"]
    assert out["url"].startswith("/admin/chain/chainevent/") and out["tx_hash"] and out["block"] > tx.block_number
    assert titles.index(out["title"]) < titles.index(issue["title"])  # the later transfer comes first
    execution = next(i for i in items if i["kind"] == "execution")
    assert execution["block"] == tx.block_number and execution["tx_hash"] == tx.relayer_tx_hash
    journal = [i for i in items if i["kind"] == "journal"]
    assert any("ownerproposal" in i["title"] or "proposal" in i["title"] for i in journal)
    assert all(i["url"].startswith("/admin/journal/journalentry/") for i in journal)

    # The receiver's timeline has the same transfer, coming in.
    received = _api("manager").get(f"/api/addresses/{issued['other']}/timeline/").json()["items"]
    assert [i["tx_hash"] for i in received if i["kind"] == "chain"] == [out["tx_hash"]]

    page = _page("manager").get(f"/history/address/{holder}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/admin/issuance/ownerproposal/{proposal.pk}/change/"' in html
    assert f'href="/multisig/{tx.pk}/"' in html and tx.relayer_tx_hash in html
    # The search box leads to the checksummed address's page.
    found = _page("manager").get("/history/address/", {"address": holder.lower()})
    assert found.status_code == 302 and found["Location"] == f"/history/address/{holder}/"


def test_object_timeline_of_a_proposal_shows_journal_approvals_and_execution(issued: dict[str, Any]) -> None:
    proposal = issued["proposal"]
    tx = proposal.transaction
    answer = _api("manager").get(f"/api/timeline/issuance.ownerproposal/{proposal.pk}/")
    assert answer.status_code == 200, answer.content
    items = answer.json()["items"]
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)
    approvals = [i for i in items if i["kind"] == "approval"]
    assert sorted(i["actor"] for i in approvals) == OWNERS and all(i["block"] and i["tx_hash"] for i in approvals)
    assert any(i["kind"] == "execution" and i["tx_hash"] == tx.relayer_tx_hash and i["block"] == tx.block_number
               for i in items)
    journal = {i["title"] for i in items if i["kind"] == "journal"}
    assert any("propose" in t for t in journal) and any("multisigtransaction" in t for t in journal)

    # The deposit backing it shows the same issue; the admin change page links to the timeline.
    deposit = proposal.deposits.get()
    answer = _api("manager").get(f"/api/timeline/issuance.deposit/{deposit.pk}/")
    assert any(i["kind"] == "execution" for i in answer.json()["items"])
    change = _page("manager").get(f"/admin/issuance/ownerproposal/{proposal.pk}/change/")
    assert f'href="/history/issuance.ownerproposal/{proposal.pk}/"' in change.content.decode()
    page = _page("manager").get(f"/history/issuance.ownerproposal/{proposal.pk}/")
    assert page.status_code == 200 and tx.relayer_tx_hash in page.content.decode()


@pytest.mark.django_db
def test_only_managers_see_timelines_and_a_bad_address_is_refused_with_nothing_changed(chain: Any) -> None:
    holder = Account.create().address
    for path in (f"/api/addresses/{holder}/timeline/", "/api/timeline/issuance.audit/1/"):
        assert _api("operator").get(path).status_code == 403
    for path in (f"/history/address/{holder}/", "/history/issuance.audit/1/"):
        assert _page("operator").get(path).status_code == 403
    assert 'href="/history/' not in _page("operator").get("/admin/").content.decode()

    api, browser = _api("manager"), _page("manager")  # signing in is journalled: before counting
    before = JournalEntry.objects.count()
    refused = api.get("/api/addresses/0x12345/timeline/")
    assert refused.status_code == 400 and "is not an address" in refused.json()["detail"]
    page = browser.get("/history/address/not-an-address/")
    assert page.status_code == 200 and "is not an address" in page.content.decode()
    assert api.get("/api/timeline/auth.user/1/").status_code == 404  # not a timeline model
    assert JournalEntry.objects.count() == before
    assert api.get(f"/api/addresses/{holder}/timeline/").json() == {"address": holder, "items": []}


def test_manager_charts_draw_the_issue_per_month_and_its_approval_latency(issued: dict[str, Any]) -> None:
    proposal = issued["proposal"]
    month = proposal.transaction.executed_at.strftime("%Y-%m")
    assert _page("operator").get("/manager/charts/").status_code == 403
    assert 'id="charts-link"' in _page("manager").get("/admin/").content.decode()
    html = _page("manager").get("/manager/charts/").content.decode()
    assert '<svg id="flows-chart"' in html and f"<title>{month} Issued (USDKG): 5 USDKG</title>" in html
    assert '<svg id="latency-chart"' in html and f"<title>{proposal.reference} Proposed to executed (hours):" in html
    assert "cdn" not in html.lower() and "<script src=\"http" not in html


def test_a_blacklisting_shows_on_the_address_and_on_its_case(issued: dict[str, Any]) -> None:
    from compliance import services as compliance
    from compliance.tests.factories import case_for, officer

    holder = issued["holder"]
    case = case_for(holder)
    proposal = compliance.compliance_proposal_create(client=chain_client(), case_id=case.pk, action="blacklist",
                                                     actor=officer(1))
    tx = consent_and_execute(proposal.transaction, [f"officer{n}" for n in range(1, 6)])
    assert tx.state == TxState.EXECUTED
    chain_index_until_head()

    items = _api("manager").get(f"/api/addresses/{holder}/timeline/").json()["items"]
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)
    assert any(i["kind"] == "case" and i["url"] == f"/admin/compliance/case/{case.pk}/change/" for i in items)
    assert any(i["kind"] == "proposal" and i["url"] == f"/multisig/{tx.pk}/" and "Blacklist" in i["title"]
               for i in items)
    listed = next(i for i in items if i["title"].startswith("AddedBlackList "))
    assert listed["url"] == f"/multisig/{tx.pk}/" and f"_user={holder}" in listed["detail"]
    assert any(i["kind"] == "register" and "blacklisted on chain" in i["title"] for i in items)
    # The newest thing that happened to the address is the blacklisting, above the issue.
    titles = [i["title"] for i in items]
    assert titles.index(listed["title"]) < titles.index(next(t for t in titles if t.startswith("Issue ")))

    case_items = _api("manager").get(f"/api/timeline/compliance.case/{case.pk}/").json()["items"]
    approvals = [i for i in case_items if i["kind"] == "approval"]
    assert sorted(i["actor"] for i in approvals) == [f"officer{n}" for n in range(1, 6)]
    assert any(i["kind"] == "execution" and i["tx_hash"] == tx.relayer_tx_hash for i in case_items)
    assert any("compliance.case.opened" in i["title"] for i in case_items)

    # The compliance proposals with their five on-chain approvals, as CSV.
    rows = _csv(_page("manager").get("/admin/compliance/complianceproposal/export/"))
    assert sorted(r["signer"] for r in rows if r["proposal"] == proposal.reference) == [
        f"officer{n}" for n in range(1, 6)]
    assert {(r["action"], r["address"], r["case"], r["executed_tx_hash"]) for r in rows} == {
        ("blacklist", holder, str(case.pk), tx.relayer_tx_hash)}


def _csv(response: Any) -> list[dict[str, str]]:
    import csv
    import io

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_timelines_and_proposals_with_their_signatures_export_as_csv_journalled_and_neutralised(
        issued: dict[str, Any]) -> None:
    from issuance.services.proposals import proposal_draft

    proposal, holder, tx = issued["proposal"], issued["holder"], issued["proposal"].transaction
    manager = _page("manager")
    exports = JournalEntry.objects.filter(action__endswith=".export")
    assert not exports.exists()

    # An address's timeline: the same items as the page, one row each; the export is on the record
    # (and, since it names the address, on the address's own timeline).
    rows = _csv(manager.get(f"/history/address/{holder}/export/"))
    items = _api("manager").get(f"/api/addresses/{holder}/timeline/").json()["items"]
    assert [r["title"] for r in rows] == [i["title"] for i in items if i["kind"] != "journal" or
                                          "timeline.export" not in i["title"]]
    assert any(r["kind"] == "execution" and r["tx_hash"] == tx.relayer_tx_hash for r in rows)
    entry = exports.get()
    assert entry.action == "timeline.export" and entry.actor_username == "manager"
    assert entry.data["filters"] == {"address": holder}
    assert 'id="timeline-export"' in manager.get(f"/history/address/{holder}/").content.decode()

    # An object's timeline.
    rows = _csv(manager.get(f"/history/issuance.ownerproposal/{proposal.pk}/export/"))
    assert sorted(r["actor"] for r in rows if r["kind"] == "approval") == OWNERS
    assert exports.filter(object_type="issuance.ownerproposal", object_id=str(proposal.pk)).count() == 1

    # Proposals with their signatures: one row per approval (block and hash of each on-chain approval),
    # the list's filters applied, and a formula typed into a memo reaches the spreadsheet as text.
    operator = User.objects.get(username="operator")
    draft = proposal_draft(client=chain_client(), kind="pause", actor=operator, memo='=HYPERLINK("http://x")')
    rows = _csv(manager.get("/admin/issuance/ownerproposal/export/"))
    mine = [r for r in rows if r["proposal"] == proposal.reference]
    assert sorted(r["signer"] for r in mine) == OWNERS
    assert all(r["approval"] == "on chain" and r["approval_block"] and r["approval_tx_hash"].startswith("0x")
               and r["nonce"] == str(tx.nonce) and r["executed_tx_hash"] == tx.relayer_tx_hash for r in mine)
    (drafted,) = [r for r in rows if r["proposal"] == draft.reference]
    assert drafted["memo"] == "'=HYPERLINK(\"http://x\")" and drafted["signer"] == "" and drafted["state"] == "draft"
    filtered = _csv(manager.get("/admin/issuance/ownerproposal/export/", {"kind": "pause"}))
    assert {r["proposal"] for r in filtered} == {draft.reference}
    assert exports.filter(action="issuance.ownerproposal.export").count() == 2
    changelist = manager.get("/admin/issuance/ownerproposal/", {"kind": "pause"}).content.decode()
    assert 'href="export/?kind=pause"' in changelist

    # Refusals change nothing: not a manager, not an address, a filter the list does not have.
    before = exports.count()
    assert _page("operator").get(f"/history/address/{holder}/export/").status_code == 403
    assert manager.get("/history/address/0x1234/export/").status_code == 400
    assert manager.get("/admin/issuance/ownerproposal/export/", {"no_such__field": "1"}).status_code == 400
    assert exports.count() == before
