"""Every relayer nonce a stored multisig execution was signed with becomes a chain.NonceClaim."""

from django.db import migrations


def forwards(apps, schema_editor):
    transactions = apps.get_model("multisig", "MultisigTransaction")
    claims = apps.get_model("chain", "NonceClaim")
    rows = transactions.objects.filter(relayer_nonce__isnull=False).values_list(
        "pk", "chain_id", "relayer_address", "relayer_nonce")
    claims.objects.bulk_create(
        [claims(chain_id=chain_id, address=address, nonce=nonce, purpose=f"multisig.multisigtransaction {pk}")
         for pk, chain_id, address, nonce in rows.iterator()], batch_size=1000, ignore_conflicts=True)


class Migration(migrations.Migration):
    dependencies = [
        ("multisig", "0005_reconciliation_alerts"),
        ("chain", "0005_nonce_claims"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
