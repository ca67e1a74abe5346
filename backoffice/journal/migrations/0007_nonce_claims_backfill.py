"""Every nonce a stored journal anchor was signed with becomes a chain.NonceClaim."""

from django.db import migrations


def forwards(apps, schema_editor):
    anchors = apps.get_model("journal", "JournalAnchor")
    claims = apps.get_model("chain", "NonceClaim")
    rows = anchors.objects.values_list("pk", "chain_id", "sender", "nonce")
    claims.objects.bulk_create(
        [claims(chain_id=chain_id, address=address, nonce=nonce, purpose=f"journal.journalanchor {pk}")
         for pk, chain_id, address, nonce in rows.iterator()], batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("journal", "0006_journal_list"),
        ("chain", "0005_nonce_claims"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
