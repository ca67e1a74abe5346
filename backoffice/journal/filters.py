"""The journal's filters, one definition for the admin list, `GET /api/journal/` and the CSV export.

Each filter is served by an index (see JournalEntry.Meta.indexes, JournalReference and the trigram index
of migration 0006), so no filter makes PostgreSQL read the whole journal to answer a page.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
SEARCH_MIN = 3  # a trigram index cannot serve shorter text: it would read every reason
SEARCH_MAX = 200
# Paging and output parameters that ride beside the filters (keyset cursors, DRF's cursor, page size).
PAGING_PARAMS = frozenset({"before", "after", "oldest", "cursor", "page_size", "format"})


class JournalFilterForm(forms.Form):
    since = forms.DateTimeField(required=False, help_text="entries at or after this time (ISO 8601)")
    until = forms.DateTimeField(required=False, help_text="entries before this time (ISO 8601)")
    actor = forms.CharField(required=False, max_length=150, help_text="username as recorded")
    action = forms.CharField(required=False, max_length=100)
    object_type = forms.CharField(required=False, max_length=100, help_text="e.g. issuance.deposit")
    object_id = forms.CharField(required=False, max_length=100)
    state = forms.CharField(required=False, max_length=50, help_text="the state the object reached")
    address = forms.CharField(required=False, max_length=42,
                              help_text="entries whose data or object concern this address")
    q = forms.CharField(required=False, max_length=SEARCH_MAX, strip=True,
                        help_text=f"text in the reason (at least {SEARCH_MIN} characters), or an exact "
                                  "reference among the data values (hash, id, serial)")

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self._unknown = sorted(set(data or {}) - set(self.fields) - PAGING_PARAMS)

    def clean_address(self) -> str:
        value: str = self.cleaned_data["address"].strip()
        if value and not ADDRESS.match(value):
            raise forms.ValidationError("an address is 0x followed by 40 hexadecimal digits")
        return value.lower()

    def clean_q(self) -> str:
        value: str = self.cleaned_data["q"]
        if value and len(value) < SEARCH_MIN:
            raise forms.ValidationError(f"search for at least {SEARCH_MIN} characters")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self._unknown:
            # A misspelt filter silently ignored would show the whole journal as if it were filtered.
            raise forms.ValidationError(f"unknown filter: {', '.join(self._unknown)}")
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since >= until:
            raise forms.ValidationError("'since' must be before 'until'")
        return cleaned

    def active(self) -> dict[str, str]:
        """The filters in use, as text (what an export journals)."""
        return {name: (value.isoformat() if hasattr(value, "isoformat") else str(value))
                for name, value in self.cleaned_data.items() if value not in (None, "")}
