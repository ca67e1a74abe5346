"""Owner proposals in the admin (filled in by the proposals work)."""
