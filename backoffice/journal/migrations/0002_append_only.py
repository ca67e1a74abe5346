"""The journal refuses UPDATE and DELETE in the database itself, whatever code or person asks."""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION journal_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the journal is append-only: % refused on %', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER journal_entry_append_only BEFORE UPDATE OR DELETE ON journal_journalentry
    FOR EACH ROW EXECUTE FUNCTION journal_refuse_change();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS journal_entry_append_only ON journal_journalentry;
DROP FUNCTION IF EXISTS journal_refuse_change();
"""
SQLITE_UP = [
    "CREATE TRIGGER journal_entry_no_update BEFORE UPDATE ON journal_journalentry "
    "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: UPDATE refused'); END;",
    "CREATE TRIGGER journal_entry_no_delete BEFORE DELETE ON journal_journalentry "
    "BEGIN SELECT RAISE(ABORT, 'the journal is append-only: DELETE refused'); END;",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS journal_entry_no_update;", "DROP TRIGGER IF EXISTS journal_entry_no_delete;"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


def head_create(apps, schema_editor):
    apps.get_model("journal", "JournalHead").objects.get_or_create(id=1, defaults={"last_seq": 0, "last_hash": "0" * 64})


class Migration(migrations.Migration):
    dependencies = [("journal", "0001_initial")]

    operations = [
        migrations.RunPython(head_create, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"postgresql": [POSTGRES_UP], "sqlite": SQLITE_UP}),
            _run({"postgresql": [POSTGRES_DOWN], "sqlite": SQLITE_DOWN}),
        ),
    ]
