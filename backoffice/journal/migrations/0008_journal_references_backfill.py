"""References for the entries written before 0006_journal_list, so that an address's history and the
journal's address filter find them too. Only inserts into the append-only side table (the entries are
not touched), in keyset chunks so a large journal never sits in memory."""

from django.db import migrations

CHUNK = 5000


def forwards(apps, schema_editor):
    # The pure function that writes references for new entries: the backfill derives exactly the same.
    from backoffice.journal.services import journal_references_of

    entries = apps.get_model("journal", "JournalEntry")
    references = apps.get_model("journal", "JournalReference")
    last = 0
    while True:
        rows = list(entries.objects.filter(seq__gt=last, references__isnull=True).order_by("seq")
                    .values_list("pk", "seq", "data", "object_id")[:CHUNK])
        if not rows:
            return
        references.objects.bulk_create(
            [references(entry_id=pk, value=value) for pk, _seq, data, object_id in rows
             for value in journal_references_of(data=data, object_id=object_id or "")],
            batch_size=CHUNK, ignore_conflicts=True)
        last = rows[-1][1]


class Migration(migrations.Migration):
    dependencies = [("journal", "0007_nonce_claims_backfill")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
