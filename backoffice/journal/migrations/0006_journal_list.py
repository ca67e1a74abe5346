"""The journal list at scale: an index per filter (newest first), the entries' references (addresses,
hashes, identifiers) in an append-only side table, and on PostgreSQL a trigram index so a text search of
reasons does not read every row.

Entries written before this migration have no references (the journal cannot be updated, and they are
derived data): the address filter finds entries from here on.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

POSTGRES_UP = """
CREATE TRIGGER journal_reference_append_only BEFORE UPDATE OR DELETE ON journal_journalreference
    FOR EACH ROW EXECUTE FUNCTION journal_refuse_change();
CREATE TRIGGER journal_reference_no_truncate BEFORE TRUNCATE ON journal_journalreference
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- The expression Django's icontains compares on PostgreSQL: UPPER(reason) LIKE UPPER('%...%').
CREATE INDEX journal_reason_trgm ON journal_journalentry USING gin (UPPER(reason) gin_trgm_ops);
"""
POSTGRES_DOWN = """
DROP INDEX IF EXISTS journal_reason_trgm;
DROP TRIGGER IF EXISTS journal_reference_no_truncate ON journal_journalreference;
DROP TRIGGER IF EXISTS journal_reference_append_only ON journal_journalreference;
"""
SQLITE_UP = [
    "CREATE TRIGGER journal_reference_no_update BEFORE UPDATE ON journal_journalreference "
    "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: UPDATE refused'); END;",
    "CREATE TRIGGER journal_reference_no_delete BEFORE DELETE ON journal_journalreference "
    "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: DELETE refused'); END;",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS journal_reference_no_update;",
               "DROP TRIGGER IF EXISTS journal_reference_no_delete;"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('journal', '0005_journal_anchor'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='JournalReference',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('value', models.CharField(max_length=100)),
            ],
        ),
        migrations.AddIndex(
            model_name='journalentry',
            index=models.Index(fields=['action', '-seq'], name='journal_action_seq'),
        ),
        migrations.AddIndex(
            model_name='journalentry',
            index=models.Index(fields=['actor_username', '-seq'], name='journal_actor_seq'),
        ),
        migrations.AddIndex(
            model_name='journalentry',
            index=models.Index(fields=['object_type', 'object_id', '-seq'], name='journal_object_seq'),
        ),
        migrations.AddIndex(
            model_name='journalentry',
            index=models.Index(fields=['state_after', '-seq'], name='journal_state_seq'),
        ),
        migrations.AddField(
            model_name='journalreference',
            name='entry',
            field=models.ForeignKey(on_delete=django.db.models.deletion.DO_NOTHING, related_name='references', to='journal.journalentry'),
        ),
        migrations.AddConstraint(
            model_name='journalreference',
            constraint=models.UniqueConstraint(fields=('value', 'entry'), name='journal_reference_unique'),
        ),
        migrations.RunPython(
            _run({"postgresql": [POSTGRES_UP], "sqlite": SQLITE_UP}),
            _run({"postgresql": [POSTGRES_DOWN], "sqlite": SQLITE_DOWN}),
        ),
    ]
