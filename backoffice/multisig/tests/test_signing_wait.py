"""The signing page's long-poll: it answers as soon as what the page shows changes, whoever changed it."""

import json
import re
import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connections
from django.test import Client

from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.multisig import views
from backoffice.multisig.models import MultisigTransaction, TxState
from backoffice.multisig.services import confirmation_add, multisig_transaction_cancel
from backoffice.multisig.signing import signing_page_version
from backoffice.multisig.tests.helpers import issue_propose, owner_signature

pytestmark = [pytest.mark.integration]

RECIPIENT = dev_account(21).address


def _user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def _client(username: str) -> Client:
    client = Client()
    client.force_login(_user(username))
    return client


def _wait_url(tx: MultisigTransaction) -> str:
    return f"/multisig/{tx.pk}/wait/"


@pytest.fixture
def waiting(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once a wait request has read the version inside its waiting loop (its second read): a change
    made after that is one the request can only have learnt of while it waited."""
    started = threading.Event()
    reads = 0
    original = views.signing_page_version

    def counted(transaction_id: int) -> str:
        nonlocal reads
        version = original(transaction_id)
        reads += 1
        if reads >= 2:
            started.set()
        return version

    monkeypatch.setattr(views, "signing_page_version", counted)
    return started


def _in_another_thread(waiting: threading.Event, change: Any) -> threading.Thread:
    """`change()` on a connection of its own (committed), once the wait is under way."""
    def run() -> None:
        try:
            if waiting.wait(timeout=60):
                change()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_waiting_page_is_answered_when_another_connection_signs_the_transaction(
    chain, gold_backing, settings, waiting
):
    settings.MULTISIG_WAIT_SECONDS = 120  # only the change can end this wait with an answer
    tx = issue_propose(3_000_000, RECIPIENT)
    client = _client("owner4")
    known = signing_page_version(tx.pk)

    def sign() -> None:
        confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=owner_signature(tx, 1),
                         actor=_user("owner1"))

    thread = _in_another_thread(waiting, sign)
    response = client.get(_wait_url(tx), {"v": known})
    thread.join()

    assert waiting.is_set()
    assert response.status_code == 200
    assert response.json() == {"version": signing_page_version(tx.pk)}
    assert response.json()["version"] != known
    assert MultisigTransaction.objects.get(pk=tx.pk).confirmations.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_waiting_page_is_answered_when_a_transaction_of_its_queue_changes_state(
    chain, gold_backing, settings, waiting
):
    settings.MULTISIG_WAIT_SECONDS = 120
    first, second = issue_propose(3_100_000, RECIPIENT), issue_propose(3_200_000, RECIPIENT)
    client = _client("owner4")
    known = signing_page_version(second.pk)

    def cancel_the_first() -> None:
        multisig_transaction_cancel(client=chain_client(), transaction_id=first.pk, reason="wrong amount",
                                    actor=_user("operator"))

    thread = _in_another_thread(waiting, cancel_the_first)
    response = client.get(_wait_url(second), {"v": known})
    thread.join()

    assert response.status_code == 200
    assert response.json()["version"] == signing_page_version(second.pk) != known
    assert MultisigTransaction.objects.get(pk=first.pk).state == TxState.CANCELLED


@pytest.mark.django_db
def test_a_page_that_knows_an_older_version_is_answered_at_once(chain, gold_backing):
    tx = issue_propose(3_300_000, RECIPIENT)
    response = _client("owner1").get(_wait_url(tx), {"v": "an-older-version"})
    assert response.status_code == 200
    assert response.json() == {"version": signing_page_version(tx.pk)}
    # Without a version (a page that knows nothing yet), the same.
    assert _client("owner1").get(_wait_url(tx)).json() == {"version": signing_page_version(tx.pk)}


@pytest.mark.django_db
def test_an_unchanged_page_is_told_so_after_the_wait_and_asks_again_at_once(chain, gold_backing, settings):
    settings.MULTISIG_WAIT_SECONDS = 0.3
    tx = issue_propose(3_400_000, RECIPIENT)
    version = signing_page_version(tx.pk)
    response = _client("owner1").get(_wait_url(tx), {"v": version})
    assert response.status_code == 204
    assert "Retry-After" not in response
    assert signing_page_version(tx.pk) == version  # asking changed nothing


@pytest.mark.django_db
def test_with_no_free_slot_to_wait_in_an_unchanged_page_is_told_to_ask_again_in_a_second(chain, gold_backing,
                                                                                         settings):
    settings.MULTISIG_WAIT_SLOTS, settings.MULTISIG_WAIT_SECONDS = 0, 120
    tx = issue_propose(3_500_000, RECIPIENT)
    client = _client("owner1")
    response = client.get(_wait_url(tx), {"v": signing_page_version(tx.pk)})
    assert response.status_code == 204
    assert response["Retry-After"] == "1"
    # A changed page is still answered at once: no slot is needed for that.
    assert client.get(_wait_url(tx), {"v": "an-older-version"}).status_code == 200


@pytest.mark.django_db
def test_those_who_may_not_see_the_transaction_are_refused_the_wait(chain, gold_backing, settings):
    settings.MULTISIG_WAIT_SECONDS = 120  # a refusal never waits
    tx = issue_propose(3_600_000, RECIPIENT)
    url, version = _wait_url(tx), signing_page_version(tx.pk)
    officer = _client("officer1")  # a compliance signer: the issuance multisig's transactions are hidden
    assert officer.get(url, {"v": version}).status_code == 403
    assert officer.get(url).status_code == 403
    anonymous = Client().get(url, {"v": version})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/admin/login/")
    assert _client("owner1").get("/multisig/999999/wait/").status_code == 404
    assert _client("owner1").post(url).status_code == 405
    assert signing_page_version(tx.pk) == version


@pytest.mark.django_db(transaction=True)
def test_a_wait_does_not_undo_what_other_requests_stored_in_the_session_meanwhile(
    chain, gold_backing, settings, waiting
):
    settings.MULTISIG_WAIT_SECONDS = 120
    settings.SESSION_SEEN_RESOLUTION_SECONDS = 0  # every request records the session's last activity
    tx = issue_propose(3_700_000, RECIPIENT)
    client = _client("owner4")
    session_key = client.session.session_key
    known = signing_page_version(tx.pk)

    def store_then_sign() -> None:
        other = SessionStore(session_key=session_key)  # another request of the same browser, e.g. a step-up
        other["stored-meanwhile"] = True
        other.save()
        confirmation_add(client=chain_client(), transaction_id=tx.pk, signature=owner_signature(tx, 1),
                         actor=_user("owner1"))

    thread = _in_another_thread(waiting, store_then_sign)
    response = client.get(_wait_url(tx), {"v": known})
    thread.join()

    assert response.status_code == 200
    assert SessionStore(session_key=session_key).get("stored-meanwhile") is True


@pytest.mark.django_db
def test_the_page_starts_waiting_from_the_version_it_was_drawn_with(chain, gold_backing):
    tx = issue_propose(3_800_000, RECIPIENT)
    page = _client("owner1").get(f"/multisig/{tx.pk}/").content.decode()
    config = json.loads(re.search(r'<script id="signing-config" type="application/json">(.*?)</script>', page,
                                  re.S).group(1))
    assert config["wait_url"] == _wait_url(tx)
    assert config["version"] == signing_page_version(tx.pk)
