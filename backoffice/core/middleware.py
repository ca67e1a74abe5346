"""The edge: what every request meets before any view, and every API answer on its way out.

`ApiErrorsAsJsonMiddleware` sits first (outermost), so it also sees the answers Django makes from
exceptions (404 for an unknown route, 400 for a form with too many fields, 500). `NulRefusalMiddleware`
comes next: PostgreSQL cannot store or even compare a text containing NUL (0x00), so a NUL reaching a
query or a journal entry is a 500 and, worse, an event that leaves no trail.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
_ENCODED_NUL = re.compile(r"%00", re.IGNORECASE)
_EXCEPTION_ATTRIBUTE = "_api_exception"
_UNPREFIXED_HEADERS = {"CONTENT_TYPE", "CONTENT_LENGTH"}  # headers WSGI does not prefix with HTTP_


def _is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


class NulRefusalMiddleware:
    """400 for a NUL in the path or query string; NUL removed from every request header.

    A header is not the client's data to keep byte for byte, and refusing it would refuse the very
    request (a failed login) the journal must record: so headers lose their NULs and the request
    goes on. Bodies are left to the parsers, which refuse NUL per field (DRF's and Django's text
    fields) or per CSV row (issuance.barlist, compliance screening).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # The path arrives decoded (PATH_INFO); the query string arrives as sent, percent-encoded or not.
        query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "\x00" in query or _ENCODED_NUL.search(query):
            logger.info("request-refused reason=nul path=%r", request.path[:200])
            message = "the address contains a NUL character (%00), which no part of this service accepts"
            if _is_api(request):
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(f"Bad request: {message}.", content_type="text/plain; charset=utf-8")
        for key, value in list(request.META.items()):
            if (key.startswith("HTTP_") or key in _UNPREFIXED_HEADERS) and isinstance(value, str) and "\x00" in value:
                request.META[key] = value.replace("\x00", "")
        return self.get_response(request)


class ApiErrorsAsJsonMiddleware:
    """Under /api/, an error answer that is not JSON becomes `{"detail": "..."}` with the same status.

    Django answers an unknown route, a refused form or a crash with an HTML page (a debug page when
    DEBUG is on); DRF answers a browser with its HTML pages. A client of the API reads JSON whatever
    went wrong. DRF's JSON answers pass untouched; a DRF answer rendered otherwise keeps its data.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not _is_api(request) or response.status_code < 400 or _is_json(response):
            return response
        body = _body(request, response)
        answer = JsonResponse(body, status=response.status_code, safe=False)
        for header, value in response.items():
            if header.lower() not in {"content-type", "content-length"}:
                answer[header] = value  # Allow (405), WWW-Authenticate (401), Vary...
        answer.cookies = response.cookies
        return answer

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        # Only noted: Django still turns it into its answer (and logs it); __call__ then says what it was.
        setattr(request, _EXCEPTION_ATTRIBUTE, exception)


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


def _body(request: HttpRequest, response: HttpResponse) -> Any:
    detail = _detail(request, response)
    data = getattr(response, "data", None)  # a DRF Response rendered for a browser: keep what it said
    if isinstance(data, dict):
        # Less the status code DRF's TemplateHTMLRenderer writes into it: the answer's status says it.
        kept = {k: v for k, v in data.items() if k != "status_code"}
        return {"detail": detail, **json.loads(json.dumps(kept, default=str))}
    if isinstance(data, list):
        return {"detail": detail, "errors": json.loads(json.dumps(data, default=str))}
    return {"detail": detail}


def _detail(request: HttpRequest, response: HttpResponse) -> str:
    exception = getattr(request, _EXCEPTION_ATTRIBUTE, None)
    status = response.status_code
    if isinstance(exception, TooManyFieldsSent):
        return (f"the form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields; nothing was read "
                f"or changed")
    if isinstance(exception, TooManyFilesSent):
        return f"the form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files; nothing was read or changed"
    if isinstance(exception, RequestDataTooBig):
        return (f"the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (files aside); "
                f"nothing was read or changed")
    if status == 404:
        return f"not found: nothing at {request.path[:200]}; the endpoints are listed at /api/docs/"
    if status == 405:
        allowed = response.get("Allow", "")
        return f"method {request.method} not allowed here" + (f"; allowed: {allowed}" if allowed else "")
    if status == 400:
        return "bad request: the request could not be read; nothing was changed"
    if status >= 500:
        return "the server failed to answer; the error was logged, try again later"
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"
