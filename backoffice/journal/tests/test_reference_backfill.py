"""Entries written before the reference index existed get their references from migration 0008, so an
address's journal entries are found however old they are; running it again adds nothing."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from eth_account import Account

from backoffice.journal.models import JournalReference
from backoffice.journal.selectors import journal_entries_filter
from backoffice.journal.services import journal_record

pytestmark = pytest.mark.django_db
backfill = importlib.import_module("backoffice.journal.migrations.0008_journal_references_backfill")


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="removing references needs the triggers off")
def test_entries_without_references_get_them_once():
    address = Account.create().address
    old = [journal_record(action="test.old", data={"holder": address, "note": f"about {address.lower()}"}),
           journal_record(action="test.old", data={"n": 7}, reason="no address")]
    kept = journal_record(action="test.new", data={"holder": address})
    # As before 0006: the old entries have no references (the table refuses deletes; a superuser may not).
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # deferred checks of the inserts above run now
        cursor.execute("ALTER TABLE journal_journalreference DISABLE TRIGGER ALL")
        JournalReference.objects.filter(entry__in=old).delete()
        cursor.execute("ALTER TABLE journal_journalreference ENABLE TRIGGER ALL")
    assert list(journal_entries_filter(filters={"address": address})) == [kept]

    backfill.forwards(apps, None)
    found = set(journal_entries_filter(filters={"address": address}))
    assert found == {old[0], kept}
    assert set(JournalReference.objects.filter(entry=old[1]).values_list("value", flat=True)) == {"7"}
    count = JournalReference.objects.count()
    backfill.forwards(apps, None)
    assert JournalReference.objects.count() == count
