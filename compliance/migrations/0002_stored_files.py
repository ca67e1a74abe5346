"""Stored files get room for their names and keep the name they were uploaded with."""

from django.db import migrations, models

import backoffice.core.files


def original_names_fill(apps, schema_editor):
    for model_name in ("CaseEvidence", "ScreeningImport"):
        model = apps.get_model("compliance", model_name)
        for row in model.objects.filter(file_name="").only("pk", "file"):
            model.objects.filter(pk=row.pk).update(file_name=row.file.name.rsplit("/", 1)[-1])


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='caseevidence',
            name='file_name',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name='screeningimport',
            name='file_name',
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AlterField(
            model_name='caseevidence',
            name='file',
            field=backoffice.core.files.StoredFileField(max_length=400, upload_to='compliance/evidence/'),
        ),
        migrations.AlterField(
            model_name='screeningimport',
            name='file',
            field=backoffice.core.files.StoredFileField(max_length=400, upload_to='compliance/screening/'),
        ),
        migrations.RunPython(original_names_fill, migrations.RunPython.noop),
    ]
