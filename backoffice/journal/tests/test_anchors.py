"""Anchors: the journal's head on chain (anvil), and rewrites that only the chain can reveal."""

import time
from contextlib import contextmanager
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from backoffice.chain.client import chain_client, relayer_account
from backoffice.journal.anchors import anchor_data_parse, journal_anchor_follow, journal_anchors_verify
from backoffice.journal.models import AnchorState, JournalAnchor, JournalEntry, JournalHead
from backoffice.journal.selectors import journal_verify
from backoffice.journal.services import GENESIS_HASH, journal_entry_hash, journal_record
from backoffice.journal.tasks import journal_anchor_task

pytestmark = [pytest.mark.integration, pytest.mark.django_db]
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="disabling triggers is PostgreSQL")


def _anchor() -> JournalAnchor:
    out = StringIO()
    call_command("journal_anchor", "--wait", "30", stdout=out)
    anchor = JournalAnchor.objects.order_by("-pk").first()
    assert anchor is not None and anchor.state == AnchorState.CONFIRMED, out.getvalue()
    assert f"journal entry #{anchor.seq} anchored in block {anchor.block_number}" in out.getvalue()
    return anchor


def _verify() -> str:
    out = StringIO()
    call_command("verify_journal", stdout=out)
    return out.getvalue()


def test_the_head_is_published_on_chain_from_the_relayer_to_itself(chain):
    for n in range(3):
        journal_record(action=f"test.{n}")
    head = JournalHead.objects.get()
    anchor = _anchor()

    assert (anchor.seq, anchor.entry_hash) == (head.last_seq, head.last_hash)
    on_chain = chain_client().transaction_get(anchor.tx_hash)
    relayer = relayer_account().address
    assert on_chain is not None and (on_chain["from"], on_chain["to"]) == (relayer, relayer)
    assert anchor_data_parse(on_chain["input"]) == (head.last_seq, head.last_hash)
    assert (on_chain["block_number"], on_chain["block_hash"]) == (anchor.block_number, anchor.block_hash)
    assert list(JournalEntry.objects.filter(object_type="journal.journalanchor").values_list("action", flat=True)
                .order_by("seq")) == ["journal.anchor_sent", "journal.journalanchor.confirm"]
    assert "journal intact" in _verify() and "1 anchors match the chain" in _verify()

    # Nothing but the anchor's own entries since: nothing to publish.
    out = StringIO()
    call_command("journal_anchor", stdout=out)
    assert "nothing new to anchor" in out.getvalue()
    assert JournalAnchor.objects.count() == 1


def test_the_periodic_task_anchors_what_is_new(chain):
    journal_record(action="test.before")
    assert journal_anchor_task() == "confirmed"
    assert journal_anchor_task() == "nothing new"
    journal_record(action="test.after")
    assert journal_anchor_task() == "confirmed"
    anchors = list(JournalAnchor.objects.order_by("seq"))
    assert len(anchors) == 2 and anchors[1].seq > anchors[0].seq and anchors[1].nonce > anchors[0].nonce
    assert journal_anchors_verify(client=chain_client()) == (2, [])


@contextmanager
def _triggers_off():
    """What a database superuser can do: switch the journal's guards off (and back on)."""
    tables = ["journal_journalentry", "journal_journalhead", "journal_journalanchor"]
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # as a fresh session: no checks of the test's inserts due
        for table in tables:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")


def _rehash_all() -> None:
    """Recompute every link and hash and the head, so the database alone says "intact"."""
    prev, last = GENESIS_HASH, None
    for entry in JournalEntry.objects.order_by("seq"):
        entry.prev_hash = prev
        entry.entry_hash = journal_entry_hash(entry)
        JournalEntry.objects.filter(pk=entry.pk).update(prev_hash=entry.prev_hash, entry_hash=entry.entry_hash)
        prev, last = entry.entry_hash, entry
    assert last is not None
    JournalHead.objects.filter(id=1).update(last_seq=last.seq, last_hash=last.entry_hash)


@postgres_only
def test_an_anchored_entry_changed_and_every_hash_recomputed_is_reported(chain):
    entries = [journal_record(action=f"test.{n}", reason="as it happened") for n in range(4)]
    anchor = _anchor()
    journal_record(action="test.later")
    with _triggers_off():
        JournalEntry.objects.filter(pk=entries[1].pk).update(reason="as we would rather tell it")
        _rehash_all()
        # Covering the tracks in the anchor row too changes nothing: the chain's copy is the one read.
        JournalAnchor.objects.filter(pk=anchor.pk).update(
            entry_hash=JournalEntry.objects.get(seq=anchor.seq).entry_hash)
    assert journal_verify().ok  # the database alone cannot tell
    with pytest.raises(CommandError, match=rf"anchored entry #{anchor.seq} changed or moved: the chain says "
                                           rf"{anchor.entry_hash}"):
        call_command("verify_journal")


@postgres_only
@pytest.mark.parametrize("rewrite", ["moved", "cut"])
def test_an_anchored_entry_that_moved_or_disappeared_is_reported(chain, rewrite):
    entries = [journal_record(action=f"test.{n}") for n in range(4)]
    first = _anchor()
    journal_record(action="test.between")
    second = _anchor()
    with _triggers_off():
        if rewrite == "moved":  # an early entry removed and the gap closed: every later entry moves up one place
            JournalEntry.objects.filter(pk=entries[0].pk).delete()
            for entry in JournalEntry.objects.filter(seq__gt=entries[0].seq).order_by("seq"):
                JournalEntry.objects.filter(pk=entry.pk).update(seq=entry.seq - 1)
        else:  # the tail cut off from the second anchored entry on
            JournalEntry.objects.filter(seq__gte=second.seq).delete()
        _rehash_all()
    assert journal_verify().ok
    with pytest.raises(CommandError) as refused:
        call_command("verify_journal")
    message = str(refused.value)
    if rewrite == "moved":
        assert f"anchored entry #{first.seq} changed or moved" in message
        assert f"anchored entry #{second.seq} changed or moved" in message
    else:
        assert message.startswith(f"anchored entry #{second.seq} disappeared")
        assert f"#{first.seq}" not in message  # what was anchored before the cut still matches


@postgres_only
def test_what_an_anchor_says_cannot_be_changed_or_removed(chain):
    journal_record(action="test.x")
    anchor = _anchor()
    with pytest.raises(DatabaseError, match="cannot be changed"), transaction.atomic():
        JournalAnchor.objects.filter(pk=anchor.pk).update(seq=anchor.seq - 1)
    with pytest.raises(DatabaseError, match="DELETE refused"), transaction.atomic():
        JournalAnchor.objects.filter(pk=anchor.pk).delete()
    stored = JournalAnchor.objects.get(pk=anchor.pk)
    assert (stored.seq, stored.entry_hash, stored.tx_hash) == (anchor.seq, anchor.entry_hash, anchor.tx_hash)


def test_an_anchor_whose_nonce_another_transaction_took_fails_and_the_next_run_anchors_anew(chain):
    journal_record(action="test.x")
    client = chain_client()
    relayer = relayer_account().address
    used = client.account_nonce(relayer, block="latest") - 1  # the deployment used it
    lost = JournalAnchor.objects.create(seq=1, entry_hash="a" * 64, chain_id=client.chain_id, sender=relayer,
                                        nonce=used, tx_hash="0x" + "ab" * 32, raw_tx=b"never sent",
                                        sent_at=timezone.now())
    settled = journal_anchor_follow(client=client, anchor_id=lost.pk, confirmations=1)
    assert settled.state == AnchorState.FAILED and "was used by another transaction" in settled.failure_reason
    anchor = _anchor()
    assert anchor.pk != lost.pk and anchor.nonce > used


def test_the_last_anchor_is_on_the_managers_home_and_in_the_public_reserve(client, chain, roles):
    journal_record(action="test.x")
    anchor = _anchor()
    manager = get_user_model().objects.create_user("boss", password="x" * 12, is_staff=True)
    manager.groups.add(Group.objects.get(name="manager"))
    client.force_login(manager)
    home = client.get("/admin/").content.decode()
    assert 'id="journal-anchor"' in home and f"#{anchor.seq}" in home and anchor.tx_hash in home

    from issuance.public.services import reserve_publish

    reserve_publish(client=chain_client())  # the worker publishes the reserve, the anchor with it
    published = client.get("/api/reserve/").json()["journal_anchor"]
    assert published == {"seq": anchor.seq, "entry_hash": anchor.entry_hash, "chain_id": chain.node.chain_id,
                         "sender": anchor.sender, "tx_hash": anchor.tx_hash, "block_number": anchor.block_number,
                         "block_hash": anchor.block_hash,
                         "anchored_at": anchor.confirmed_at.isoformat().replace("+00:00", "Z")}


@pytest.mark.django_db(transaction=True)
def test_the_worker_anchors_the_journal_when_beat_asks(chain, celery_worker):
    journal_record(action="test.worker")
    head = JournalHead.objects.get()
    journal_anchor_task.delay()  # what beat sends every JOURNAL_ANCHOR_SECONDS
    deadline = time.monotonic() + 60
    while not JournalAnchor.objects.filter(state=AnchorState.CONFIRMED).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    anchor = JournalAnchor.objects.get()
    assert (anchor.state, anchor.seq, anchor.entry_hash) == (AnchorState.CONFIRMED, head.last_seq, head.last_hash)
    assert journal_anchors_verify(client=chain_client()) == (1, [])


def test_a_stuck_anchor_is_replaced_at_its_nonce_and_whichever_is_mined_confirms_it(chain, settings):
    from backoffice.journal.anchors import journal_anchor_publish

    client = chain_client()
    provider = client.w3.provider
    journal_record(action="test.stuck")
    provider.make_request("evm_setAutomine", [False])
    try:
        anchor = journal_anchor_publish(client=client)
        assert anchor is not None and anchor.state == AnchorState.SENT
        assert journal_anchor_follow(client=client, anchor_id=anchor.pk, confirmations=1).tx_hash == anchor.tx_hash
        settings.JOURNAL_ANCHOR_STUCK_SECONDS = 0  # it waited long enough
        replaced = journal_anchor_follow(client=client, anchor_id=anchor.pk, confirmations=1)
        assert replaced.state == AnchorState.SENT and replaced.previous_tx_hashes == [anchor.tx_hash]
        assert replaced.nonce == anchor.nonce and replaced.tx_hash != anchor.tx_hash
        provider.make_request("evm_mine", [])
    finally:
        provider.make_request("evm_setAutomine", [True])
    confirmed = journal_anchor_follow(client=client, anchor_id=anchor.pk, confirmations=1)
    assert confirmed.state == AnchorState.CONFIRMED
    assert confirmed.tx_hash in (anchor.tx_hash, replaced.tx_hash)
    assert journal_anchors_verify(client=client) == (1, [])
