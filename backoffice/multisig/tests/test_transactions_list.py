"""GET /api/multisig/transactions/ builds its rows from values (api_transaction_rows.py), not through the
model serializers: the JSON must be exactly `TransactionSerializer`'s, for both multisigs, with signatures
and rejections, and a page must cost the same number of queries whatever the number of rows on it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.renderers import JSONRenderer

from backoffice.chain.devkeys import dev_account
from backoffice.multisig.api_transaction_rows import COLUMNS, transaction_rows_present, url_template
from backoffice.multisig.api_transactions import TransactionSerializer, transaction_api_url
from backoffice.multisig.models import MultisigTransaction
from backoffice.multisig.tests.helpers import issue_propose, owners_sign
from compliance.tests.factories import officer_sign

from .test_transactions_api import URL, api, blacklist_proposed

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def _serialized() -> list[dict[str, Any]]:
    queryset = MultisigTransaction.objects.order_by("-created_at", "-id")
    return list(json.loads(JSONRenderer().render(TransactionSerializer(queryset, many=True).data)))


def _rows() -> list[dict[str, Any]]:
    rows = MultisigTransaction.objects.order_by("-created_at", "-id").values(*COLUMNS)
    return list(json.loads(JSONRenderer().render(transaction_rows_present(rows))))


def test_the_list_says_exactly_what_the_serializer_says_of_both_multisigs_transactions(chain: Any) -> None:
    owners_sign(issue_propose(5_000_000, dev_account(17).address), (1,))
    proposal = blacklist_proposed()
    officer_sign(proposal.transaction, 2)
    cancelled = api("officer2").post(f"{URL}{proposal.transaction_id}/cancel/", {"reason": "wrong address"},
                                     format="json")
    assert cancelled.status_code == 200 and cancelled.json()["rejection"] is not None  # a rejection, too

    assert len(_rows()) == 3 and _rows() == _serialized()
    assert api("manager").get(URL).json()["results"] == _serialized()
    assert url_template("multisig-api:transaction-detail").format(7) == transaction_api_url(7)


def test_a_page_of_many_transactions_costs_the_queries_of_a_page_of_one(chain: Any) -> None:
    manager = api("manager")
    manager.get(URL)  # the session's first request writes its own rows

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager.get(URL).status_code == 200
        return len(captured)

    owners_sign(issue_propose(1_000_000, dev_account(17).address), (1,))
    one = queries()
    for n in range(4):
        owners_sign(issue_propose(2_000_000 + n, dev_account(17).address), (2, 3))
    officer_sign(blacklist_proposed().transaction, 1)
    assert len(manager.get(URL).json()["results"]) == 6
    assert queries() == one
