"""Errors every app raises; the API and admin bases map them to answers (400, 409, 503)."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Input refused with a message for the person who gave it; nothing was saved.

    `field` names the input it is about (an action field such as "amount", or "kind"), so forms and
    the API show it beside that input without reading the message; None for the input as a whole.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
