"""Errors every app raises; the API and admin bases map them to answers (400, 409, 503)."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Input refused with a message for the person who gave it; nothing was saved."""
