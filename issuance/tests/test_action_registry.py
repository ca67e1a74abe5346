"""Adding an owner-proposal action is one class: an action declared and registered here (as
issuance/actions.py does) flows through the draft and propose services, the API's input and refusals,
the admin form, the decoding of the signed bytes and the signing page's description, with no other edit.

The action: the issuance multisig transfers tokens it holds (`transfer(to, value)`), which no app declares,
with inputs of its own (`tokens`, `destination`) that no OwnerProposal column is named after.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from django.test import Client

from backoffice.chain.addresses import address_require_checksummed
from backoffice.chain.client import ChainClient, chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.core.amounts import amount_parse, tokens_format
from backoffice.core.errors import InvalidInput
from backoffice.multisig.actions import (
    ActionField,
    action_register,
    action_unregister,
    call_decode,
    transaction_display,
    transaction_record,
)
from backoffice.multisig.models import MultisigTransaction
from issuance.actions import OwnerProposalAction
from issuance.models import OwnerProposal
from issuance.services.proposals import proposal_draft, proposal_propose

from .test_proposals_api import api, stored, user

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

TO = dev_account(19).address


class TransferOut(OwnerProposalAction):
    name, label, function = "transfer_out", "Transfer tokens out of the multisig", "transfer"
    fields = (ActionField("tokens", "Tokens to send", kind="tokens", required=True,
                          required_message="required to transfer"),
              ActionField("destination", "Destination", kind="address", required=True,
                          required_message="who receives"))

    def clean(self, *, client: ChainClient, values: Mapping[str, Any]) -> dict[str, Any]:
        self.required_check(values)
        try:
            destination = address_require_checksummed(values["destination"], field="destination")
        except ValueError as exc:
            raise InvalidInput(str(exc), field="destination") from exc
        return {"tokens": amount_parse(values["tokens"], field="tokens"), "destination": destination}

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        return [values["destination"], int(values["tokens"])]

    def describe(self, arguments: Mapping[str, Any]) -> str:
        return f"Send {tokens_format(int(arguments['value']))} USDKG to {arguments['to']}"


@pytest.fixture
def transfer_out() -> Iterator[None]:
    action_register(TransferOut)
    yield
    action_unregister(TransferOut.name)


def test_a_registered_action_is_drafted_proposed_decoded_and_described_with_no_other_edit(
    chain: Any, transfer_out: None
) -> None:
    response = api("operator").post("/api/proposals/", {"kind": "transfer_out", "tokens": "12.5", "destination": TO},
                                    format="json")
    assert response.status_code == 201, response.content
    draft = OwnerProposal.objects.get(pk=response.json()["id"])
    assert (draft.kind, draft.arguments) == ("transfer_out", {"tokens": 12_500_000, "destination": TO})
    assert response.json()["arguments"] == {"tokens": 12_500_000, "destination": TO}
    assert str(draft).startswith(f"ISS-{draft.pk:04d} Transfer tokens out of the multisig")

    proposed = proposal_propose(client=chain_client(), proposal_id=draft.pk, actor=user("operator"))
    tx = MultisigTransaction.objects.get(pk=proposed.transaction_id)
    # The bytes are the action's calldata, to the token, operation 0; decoding them finds the action.
    assert bytes(tx.data) == chain_client().token_calldata("transfer", TO, 12_500_000) and tx.operation == 0
    call = call_decode(tx)
    assert call.action is not None and call.action.name == "transfer_out"
    assert transaction_display(tx)["description"] == f"Send 12.500000 USDKG to {TO}"
    record = transaction_record(tx)
    assert record is not None and record.id == draft.pk

    owner = Client()
    owner.force_login(user("owner1"))
    page = owner.get(f"/multisig/{tx.pk}/").content.decode()
    assert f'<td id="tx-description">Send 12.500000 USDKG to {TO}</td>' in page
    assert "transfer_out" in {c["kind"] for c in api("operator").get("/api/proposals/").json()["results"]}


def test_a_registered_actions_validation_refuses_per_field_and_stores_nothing(chain: Any, transfer_out: None) -> None:
    operator = Client()
    operator.force_login(user("operator"))  # a login is journalled: before the count
    before = stored()
    with pytest.raises(InvalidInput) as refused:
        proposal_draft(client=chain_client(), kind="transfer_out", actor=user("operator"), tokens="1",
                       destination=TO.lower())
    assert refused.value.field == "destination"
    response = api("operator").post("/api/proposals/", {"kind": "transfer_out", "tokens": "1",
                                                         "destination": TO.lower()}, format="json")
    assert response.status_code == 400
    assert "is not checksummed" in response.json()["destination"][0]  # beside its field, not parsed from English
    missing = api("operator").post("/api/proposals/", {"kind": "transfer_out", "destination": TO}, format="json")
    assert missing.status_code == 400 and missing.json()["tokens"] == ["required to transfer"]
    # The admin form offers the action and shows the refusal beside the recipient input.
    form = operator.get("/admin/issuance/ownerproposal/add/").content.decode()
    assert '<option value="transfer_out">Transfer tokens out of the multisig</option>' in form
    page = operator.post("/admin/issuance/ownerproposal/add/", {"kind": "transfer_out", "tokens": "1",
                                                                 "destination": TO.lower(), "memo": ""})
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["destination"][0].startswith("destination: ")
    assert stored() == before


def test_an_unknown_action_is_refused_naming_the_kind(chain: Any) -> None:
    before = stored()
    with pytest.raises(InvalidInput) as refused:
        proposal_draft(client=chain_client(), kind="transfer_out", actor=user("operator"), tokens="1", destination=TO)
    assert refused.value.field == "kind" and "kind must be one of issue, redeem, pause, unpause, set_fee" in str(
        refused.value)
    assert stored() == before
