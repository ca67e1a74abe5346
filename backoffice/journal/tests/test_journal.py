import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from backoffice.journal.models import JournalEntry, JournalHead
from backoffice.journal.selectors import journal_verify
from backoffice.journal.services import GENESIS_HASH, journal_entry_hash, journal_record

pytestmark = pytest.mark.django_db


def _last_seq() -> int:
    head = JournalHead.objects.filter(id=1).first()
    return head.last_seq if head else 0


def test_entries_are_numbered_and_each_hash_covers_the_previous_one():
    start = _last_seq()
    first = journal_record(action="test.first", data={"amount": "10.000001"})
    second = journal_record(action="test.second", reason="because")
    assert (first.seq, second.seq) == (start + 1, start + 2)
    assert first.prev_hash == (GENESIS_HASH if start == 0 else JournalEntry.objects.get(seq=start).entry_hash)
    assert second.prev_hash == first.entry_hash
    assert journal_entry_hash(JournalEntry.objects.get(seq=second.seq)) == second.entry_hash
    assert JournalHead.objects.get().last_hash == second.entry_hash
    assert journal_verify().ok


def test_the_database_refuses_update_and_delete_of_an_entry():
    entry = journal_record(action="test.keep", reason="original")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        JournalEntry.objects.filter(pk=entry.pk).delete()
    assert JournalEntry.objects.get(pk=entry.pk).reason == "original"


def _tamper(entry_id: int, **changes: object) -> None:
    """Bypass the trigger the way only a database superuser could, to prove verify_journal notices."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
    JournalEntry.objects.filter(pk=entry_id).update(**changes)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = origin")


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="bypassing the trigger is PostgreSQL syntax")
def test_verify_journal_names_the_first_broken_entry():
    entries = [journal_record(action=f"test.{n}", reason=str(n)) for n in range(5)]
    call_command("verify_journal")
    _tamper(entries[2].pk, reason="a quiet edit")
    _tamper(entries[3].pk, reason="another one")
    with pytest.raises(CommandError, match=rf"entry #{entries[2].seq} content does not match its hash"):
        call_command("verify_journal")


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="bypassing the trigger is PostgreSQL syntax")
def test_verify_journal_notices_a_removed_entry():
    entries = [journal_record(action=f"test.{n}") for n in range(3)]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("DELETE FROM journal_journalentry WHERE id = %s", [entries[1].pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    check = journal_verify()
    seq = entries[1].seq
    assert (check.broken_seq, check.problem) == (seq, f"entry #{seq} is missing (next is #{seq + 1})")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain():
    errors: list[BaseException] = []
    start = _last_seq()

    def write(n: int) -> None:
        try:
            for i in range(5):
                journal_record(action="test.concurrent", data={"writer": n, "i": i})
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seqs = list(JournalEntry.objects.filter(action="test.concurrent").order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(start + 1, start + 31))  # 30 entries, no gap, no duplicate
    assert journal_verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_writer_that_waited_for_the_head_chains_onto_what_the_other_committed():
    """The append numbers and links the entry in the statement that locks the head: a writer blocked on
    the lock must see the head as the other writer committed it, not as it was when its statement began."""
    recorded, release = threading.Event(), threading.Event()
    first: list[JournalEntry] = []
    second: list[JournalEntry] = []
    errors: list[BaseException] = []

    def holder() -> None:
        try:
            with transaction.atomic():
                first.append(journal_record(action="test.holder"))
                recorded.set()
                release.wait(10)
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            recorded.set()
            connection.close()

    def waiter() -> None:
        try:
            second.append(journal_record(action="test.waiter"))
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    a = threading.Thread(target=holder)
    a.start()
    assert recorded.wait(10)
    b = threading.Thread(target=waiter)
    b.start()
    b.join(0.5)
    assert b.is_alive(), "the second writer did not wait for the head's lock"
    release.set()
    a.join(10)
    b.join(10)
    assert errors == []
    assert (second[0].seq, second[0].prev_hash) == (first[0].seq + 1, first[0].entry_hash)
    stored = JournalEntry.objects.get(pk=second[0].pk)
    assert (stored.seq, stored.prev_hash, stored.entry_hash) == (second[0].seq, second[0].prev_hash,
                                                                second[0].entry_hash)
    assert stored.entry_hash == journal_entry_hash(stored)
    assert journal_verify().ok


def _prepared_appends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%INSERT INTO journal_journalentry%"])
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="prepared statements are PostgreSQL's")
def test_the_append_is_prepared_once_per_connection_unless_turned_off(settings):
    connection.close()
    settings.DATABASE_PREPARE = False  # as behind a transaction-mode pooler
    unprepared = journal_record(action="test.unprepared", data={"n": 1})
    assert _prepared_appends() == 0
    settings.DATABASE_PREPARE = True
    first = journal_record(action="test.prepared", data={"n": 2})
    second = journal_record(action="test.prepared", data={"n": 3})
    assert _prepared_appends() == 1  # prepared by the first, reused by the second
    assert [e.seq for e in (unprepared, first, second)] == [unprepared.seq, unprepared.seq + 1, unprepared.seq + 2]
    assert journal_verify().ok


def test_logins_and_failed_logins_are_journalled_with_their_origin(client):
    get_user_model().objects.create_user("alice", password="a-long-password-1", is_staff=True)
    client.post("/admin/login/?next=/admin/", {"username": "alice", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    failed = JournalEntry.objects.get(action="auth.login_failed")
    assert (failed.actor_username, failed.origin_ip) == ("alice", "10.1.2.3")
    assert "wrong" not in str(failed.data)
    response = client.post("/admin/login/?next=/admin/", {"username": "alice", "password": "a-long-password-1"})
    assert response.status_code == 302
    assert JournalEntry.objects.filter(action="auth.login", actor__username="alice").count() == 1


def test_role_changes_are_journalled(roles):
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user("bob", password="x" * 12)
    group = Group.objects.get(name="operator")
    user.groups.add(group)
    user.groups.remove(group)
    actions = list(JournalEntry.objects.filter(object_id=str(user.pk)).order_by("seq").values_list("action", "data"))
    assert actions == [("role.granted", {"roles": ["operator"], "user": "bob"}),
                       ("role.revoked", {"roles": ["operator"], "user": "bob"})]


def test_managers_read_the_journal_in_the_admin_and_nobody_can_change_it(client, roles):
    from django.contrib.auth.models import Group

    manager = get_user_model().objects.create_user("boss", password="x" * 12, is_staff=True)
    manager.groups.add(Group.objects.get(name="manager"))
    entry = journal_record(action="test.visible")
    client.force_login(manager)
    listing = client.get("/admin/journal/journalentry/?action=test.visible")
    assert listing.status_code == 200 and b"test.visible" in listing.content
    assert client.get(f"/admin/journal/journalentry/{entry.pk}/change/").status_code == 200
    assert client.post(f"/admin/journal/journalentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/journal/journalentry/add/").status_code == 403
    assert JournalEntry.objects.filter(pk=entry.pk).exists()


def test_role_changes_made_from_the_group_side_are_journalled_too(roles):
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user("carol", password="x" * 12)
    Group.objects.get(name="custodian").user_set.add(user)
    entry = JournalEntry.objects.get(action="role.granted", object_id=str(user.pk))
    assert entry.data == {"roles": ["custodian"], "user": "carol"}


def test_superuser_flags_and_direct_permissions_are_journalled():
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("dave", password="x" * 12)
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    flags = JournalEntry.objects.get(action="user.flags_changed", object_id=str(user.pk))
    assert flags.data == {"user": "dave", "is_superuser": True}
    user.user_permissions.add(Permission.objects.get(codename="propose_ownerproposal"))
    granted = JournalEntry.objects.get(action="permission.granted", object_id=str(user.pk))
    assert granted.data == {"permissions": ["issuance.propose_ownerproposal"], "user": "dave"}
