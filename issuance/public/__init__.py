"""The public proof of reserve: a page, a JSON API and the audited bar list, open to anyone."""
