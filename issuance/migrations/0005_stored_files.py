"""Stored files get room for their names and keep the name they were uploaded with.

Receipts and reports attached before this release were stored (their SHA-256 was recorded) but never
linked to their deposit or audit: the link is repaired here from the content-addressed folder.
"""

from django.core.files.storage import default_storage
from django.db import migrations, models

import backoffice.core.files


def _stored_under(folder: str, sha256: str) -> str:
    try:
        _, files = default_storage.listdir(f"{folder}/{sha256}")
    except (FileNotFoundError, NotImplementedError):
        return ""
    return f"{folder}/{sha256}/{sorted(files)[0]}" if files else ""


def stored_files_repair(apps, schema_editor):
    for model_name, field, name_field, sha_field, folder in (
        ("Deposit", "receipt_document", "receipt_name", "receipt_sha256", "deposits/receipts"),
        ("Audit", "report", "report_name", "report_sha256", "audits/reports"),
        ("BarListImport", "file", "file_name", "sha256", "imports"),
    ):
        model = apps.get_model("issuance", model_name)
        for row in model.objects.exclude(**{sha_field: ""}).only("pk", field, name_field, sha_field):
            stored = getattr(row, field).name or _stored_under(folder, getattr(row, sha_field))
            if stored:
                model.objects.filter(pk=row.pk).update(**{field: stored, name_field: stored.rsplit("/", 1)[-1]})


class Migration(migrations.Migration):

    dependencies = [
        ('issuance', '0004_bar_unique_case_insensitive'),
    ]

    operations = [
        migrations.AddField(
            model_name='audit',
            name='report_name',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name='barlistimport',
            name='file_name',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name='deposit',
            name='receipt_name',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AlterField(
            model_name='audit',
            name='report',
            field=backoffice.core.files.StoredFileField(blank=True, max_length=400, upload_to='audits/reports/'),
        ),
        migrations.AlterField(
            model_name='barlistimport',
            name='file',
            field=backoffice.core.files.StoredFileField(max_length=400, upload_to='imports/'),
        ),
        migrations.AlterField(
            model_name='deposit',
            name='receipt_document',
            field=backoffice.core.files.StoredFileField(blank=True, max_length=400, upload_to='deposits/receipts/'),
        ),
        migrations.RunPython(stored_files_repair, migrations.RunPython.noop),
    ]
