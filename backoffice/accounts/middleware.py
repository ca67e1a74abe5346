"""Sessions: they expire (idle and in all), and reach nothing before the second factor.

Both look only at the session's user (AuthenticationMiddleware's): API tokens are authenticated later,
by DRF, and are not sessions, so they pass through untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import cached_property

from .mfa import challenge_url, enrol_url, user_has_second_factor, user_is_verified

STARTED_AT_SESSION_KEY = "session_started_at"
SEEN_AT_SESSION_KEY = "session_seen_at"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


class SessionTimeoutMiddleware:
    """A signed-in session ends after SESSION_IDLE_SECONDS without a request, and SESSION_MAX_SECONDS after
    it began, whatever happens in between: the user is logged out and sent to the login page with a message."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            started = request.session.get(STARTED_AT_SESSION_KEY)
            seen = request.session.get(SEEN_AT_SESSION_KEY)
            if not isinstance(started, int | float) or not isinstance(seen, int | float):
                request.session[STARTED_AT_SESSION_KEY] = request.session[SEEN_AT_SESSION_KEY] = now
            elif now - seen > settings.SESSION_IDLE_SECONDS or now - started > settings.SESSION_MAX_SECONDS:
                idle = now - seen > settings.SESSION_IDLE_SECONDS
                logout(request)
                why = (f"after {settings.SESSION_IDLE_SECONDS // 60} minutes without activity" if idle
                       else f"{settings.SESSION_MAX_SECONDS // 3600} hours after you logged in")
                text = f"Your session expired {why}: log in again."
                if _is_api(request):
                    return JsonResponse({"detail": text}, status=401)
                messages.warning(request, text)
                return redirect(f"{reverse('admin:login')}?next={request.get_full_path()}")
            elif now - seen >= settings.SESSION_SEEN_RESOLUTION_SECONDS:
                request.session[SEEN_AT_SESSION_KEY] = now
        return self.get_response(request)


class SecondFactorMiddleware:
    """Until its second factor is passed, a signed-in session reaches only enrolment, the challenge, the
    passkey ceremony, logout and static files. Pages redirect there; the API answers 403 JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @cached_property
    def open_prefixes(self) -> tuple[str, ...]:
        return (reverse("accounts:mfa-enrol"), reverse("accounts:mfa-challenge"),
                reverse("otp_webauthn:credential-authentication-begin").rsplit("authentication/", 1)[0],
                reverse("admin:logout"), reverse("admin:login"), f"/{settings.STATIC_URL.lstrip('/')}")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or user_is_verified(user) or request.path.startswith(self.open_prefixes):
            return self.get_response(request)
        enrolled = user_has_second_factor(user)
        url = challenge_url(request.get_full_path()) if enrolled else enrol_url(request.get_full_path())
        if _is_api(request):
            return JsonResponse({"detail": "second factor required: pass it in the browser first",
                                 "step_up": url}, status=403)
        return redirect(url)
