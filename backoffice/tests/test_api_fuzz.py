"""The API fuzzed from its own schema (schemathesis): whatever an operator, an owner or a manager sends,
with their personal API tokens, the answer is never a server error and its status is one the schema
documents.

Bounded so `make test` stays quick: the schema's examples and a few generated cases per operation (no
coverage or stateful phase), and a deadline per case. In-process through the WSGI application, on the
test's database (rolled back after it).

Left out, because they put real transactions on chain (the signing flows have their own tests on anvil):
POST .../signatures/ (the approval that completes the threshold sends the transaction), .../raw/ and
.../sent/ (broadcast a signed transaction), and POST /api/proposals/{id}/propose/ (sends approveHash
proposals). The rest runs against the session's anvil with the contracts deployed (the `chain` fixture),
so reading the chain succeeds and a 503 would be a real failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import status_code_conformance

pytestmark = pytest.mark.integration

ROLES = ("operator", "owner1", "manager")
SENDS_TRANSACTIONS = r"/api/multisig/transactions/\{id\}/(signatures|raw|sent)/|/api/proposals/\{id\}/propose/"

CONFIG = SchemathesisConfig.from_dict({
    "seed": 20261129,  # the same cases every run: a failure here is reproducible, never flaky
    "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    "generation": {"max-examples": 3},
})


@pytest.fixture
def tokens(chain: Any) -> Iterator[dict[str, str]]:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from backoffice.accounts.tokens import api_token_create
    from backoffice.chain.client import chain_client
    from issuance.public.services import reserve_publish

    call_command("chain_index", "--until-head")  # the reconciliation needs an indexed block
    reserve_publish(client=chain_client())  # what the worker does: the public reserve is served from it
    users = get_user_model().objects
    # The WSGI handler closes the connection after each request, and with it the test's transaction;
    # Django's test client keeps it open the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield {role: api_token_create(user=users.get(username=role), name="fuzz")[1] for role in ROLES}
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _schema() -> Any:
    """The schema /api/schema/ serves, generated in-process (that view needs a staff login; generating
    reads no database), called through the WSGI application. Built as the module is collected, not through
    schemathesis.pytest.from_fixture: its lazy loader sets pytest's private Node._nodeid, gone in pytest 9.2."""
    from drf_spectacular.generators import SchemaGenerator

    loaded = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True), config=CONFIG)
    loaded.app, loaded.location = WSGIHandler(), "/api/schema/"
    return loaded.exclude(path_regex=SENDS_TRANSACTIONS)


schema = _schema()


@schema.parametrize()
# A case (three calls) slower than 10 s is a failure; generous, for a loaded CI machine.
# No example database (.hypothesis/ in the work tree): the fixed seed already replays a failure.
@settings(deadline=10_000, suppress_health_check=list(HealthCheck), database=None)
def test_no_role_gets_a_server_error_or_an_undocumented_status(case: Any, tokens: dict[str, str]) -> None:
    for token in tokens.values():
        case.call_and_validate(headers={"Authorization": f"Token {token}"},
                               checks=[not_a_server_error, status_code_conformance])
