from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from .context import Origin, current_origin


class RequestOriginMiddleware:
    """Makes the request's origin available to journal_record for the length of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = current_origin.set(Origin.from_request(request))
        try:
            return self.get_response(request)
        finally:
            current_origin.reset(token)
