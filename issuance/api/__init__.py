"""The REST API of the gold side: deposits and their bars, audits, gold prices."""
