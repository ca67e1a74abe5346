"""The journal cannot be emptied, and its head can only follow the chain forward (PostgreSQL).

0002 refuses UPDATE and DELETE of an entry, row by row; TRUNCATE fires no row trigger, so it is
refused here by a statement trigger, on the entries and on the head. The head (one row) may only be
created or moved to the newest entry, strictly forward, and only if the entry after the old head links
to the old head's hash: resetting it, pointing it at a forged entry past a gap, or at anything that is
not the newest entry is refused, and so is deleting it. The database cannot tell a forged entry that
is correctly chained from a genuine one (the application has the same credentials); that is what the
anchors on chain are for (`journal_anchor`).

A superuser can still disable triggers (`session_replication_role = replica`, `DISABLE TRIGGER`):
the anchors catch what such a rewrite changes. SQLite (the demo) keeps 0002's triggers only.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE TRIGGER journal_entry_no_truncate BEFORE TRUNCATE ON journal_journalentry
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();
CREATE TRIGGER journal_head_no_truncate BEFORE TRUNCATE ON journal_journalhead
    FOR EACH STATEMENT EXECUTE FUNCTION journal_refuse_change();

CREATE OR REPLACE FUNCTION journal_head_guard() RETURNS trigger AS $$
DECLARE
    newest_seq bigint;
    newest_hash varchar;
    next_prev varchar;
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'the journal head cannot be deleted';
    END IF;
    IF TG_OP = 'INSERT' AND EXISTS (SELECT 1 FROM journal_journalhead) THEN
        RETURN NEW;  -- the primary key refuses it; a writer racing to create the head gets that error and reads it
    END IF;
    IF TG_OP = 'INSERT' AND NEW.last_seq = 0 AND NEW.last_hash = repeat('0', 64) THEN
        -- The genesis head of an empty journal. Checked apart: two writers creating it at once must get
        -- the primary key's error (and read the other's head), whatever they see of each other's entries
        -- (each statement in here takes its own snapshot). A genesis head over existing entries cannot
        -- fork anything: the next entry would reuse seq 1, which its primary key refuses.
        RETURN NEW;
    END IF;
    SELECT seq, entry_hash INTO newest_seq, newest_hash
        FROM journal_journalentry ORDER BY seq DESC LIMIT 1;
    IF newest_seq IS NULL THEN
        newest_seq := 0;
        newest_hash := repeat('0', 64);
    END IF;
    IF NEW.last_seq <> newest_seq OR NEW.last_hash <> newest_hash THEN
        RAISE EXCEPTION 'the journal head must name the newest entry #% (asked: #%)', newest_seq, NEW.last_seq;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.id <> OLD.id THEN
            RAISE EXCEPTION 'the journal head cannot be renumbered';
        END IF;
        IF NEW.last_seq = OLD.last_seq AND NEW.last_hash = OLD.last_hash THEN
            RETURN NEW;  -- saved unchanged: harmless
        END IF;
        IF NEW.last_seq <= OLD.last_seq THEN
            RAISE EXCEPTION 'the journal head only moves forward (from #% to #% refused)', OLD.last_seq, NEW.last_seq;
        END IF;
        SELECT prev_hash INTO next_prev FROM journal_journalentry WHERE seq = OLD.last_seq + 1;
        IF next_prev IS DISTINCT FROM OLD.last_hash THEN
            RAISE EXCEPTION 'entry #% does not extend the journal head #%', OLD.last_seq + 1, OLD.last_seq;
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER journal_head_guard BEFORE INSERT OR UPDATE OR DELETE ON journal_journalhead
    FOR EACH ROW EXECUTE FUNCTION journal_head_guard();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS journal_head_guard ON journal_journalhead;
DROP FUNCTION IF EXISTS journal_head_guard();
DROP TRIGGER IF EXISTS journal_head_no_truncate ON journal_journalhead;
DROP TRIGGER IF EXISTS journal_entry_no_truncate ON journal_journalentry;
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("journal", "0002_append_only")]

    operations = [migrations.RunPython(_run(POSTGRES_UP), _run(POSTGRES_DOWN))]
