"""The second factor's pages: enrolment on first login, the challenge (and step-up), recovery codes shown
once, the user's devices (passkeys are added there); and the passkey ceremony's completion, which also
notes the step-up time and journals."""

from __future__ import annotations

import base64
import time
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import devices_for_user
from django_otp_webauthn.views import CompleteCredentialAuthenticationView, CompleteCredentialRegistrationView

from backoffice.core.errors import InvalidInput
from backoffice.journal.services import journal_record

from .mfa import (
    RECOVERY_CODES_SESSION_KEY,
    VERIFIED_AT_SESSION_KEY,
    recovery_codes_replace,
    second_factor_verify,
    session_verified_fresh,
    session_verified_mark,
    totp_enrolment_confirm,
    totp_enrolment_start,
    user_has_second_factor,
    user_is_verified,
)


def _next(request: HttpRequest) -> str:
    """Where to go afterwards: the `next` asked for if it is on this site, else the admin home."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return wanted
    return reverse("admin:index")


def _page(request: HttpRequest, template: str, title: str, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, template, {**admin.site.each_context(request), "title": title,
                                      "next": _next(request), **context}, status=status)


@never_cache
@login_required
def enrol_page(request: HttpRequest) -> HttpResponse:
    """First login: the authenticator app's secret (and otpauth URI), confirmed with a code."""
    user = cast(User, request.user)
    if user_has_second_factor(user):
        return redirect(f"{reverse('accounts:mfa-challenge')}?next={_next(request)}") if not user_is_verified(user) \
            else redirect("accounts:mfa-devices")
    device = totp_enrolment_start(user=user)
    status = 200
    if request.method == "POST":
        try:
            device, codes = totp_enrolment_confirm(user=user, code=request.POST.get("code", ""))
        except InvalidInput as exc:
            messages.error(request, str(exc))
            status = 400
        else:
            session_verified_mark(request, device)
            request.session[RECOVERY_CODES_SESSION_KEY] = codes
            return redirect(f"{reverse('accounts:mfa-recovery-codes')}?next={_next(request)}")
    secret = base64.b32encode(device.bin_key).decode()
    return _page(request, "accounts/mfa_enrol.html", "Set up your second factor", status=status,
                 secret=secret, secret_grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                 otpauth_uri=device.config_url)


@never_cache
@login_required
def recovery_codes_page(request: HttpRequest) -> HttpResponse:
    """The recovery codes just made, shown this once (they are popped from the session)."""
    codes = request.session.pop(RECOVERY_CODES_SESSION_KEY, None)
    if not codes:
        messages.info(request, "Recovery codes are shown only once, when they are made. Make new ones here.")
        return redirect("accounts:mfa-devices")
    return _page(request, "accounts/mfa_recovery_codes.html", "Your recovery codes", codes=codes)


@never_cache
@login_required
def challenge_page(request: HttpRequest) -> HttpResponse:
    """The second factor: a code from the app, a recovery code, or a passkey. Also the step-up page."""
    user = cast(User, request.user)
    if not user_has_second_factor(user):
        return redirect(f"{reverse('accounts:mfa-enrol')}?next={_next(request)}")
    status = 200
    if request.method == "POST":
        try:
            device = second_factor_verify(user=user, code=request.POST.get("code", ""))
        except InvalidInput as exc:
            messages.error(request, str(exc))
            status = 400
        else:
            session_verified_mark(request, device)
            return redirect(_next(request))
    return _page(request, "accounts/mfa_challenge.html", "Confirm it is you", status=status,
                 step_up=user_is_verified(user) and not session_verified_fresh(request))


@never_cache
@login_required
def devices_page(request: HttpRequest) -> HttpResponse:
    """The user's devices; passkeys are added here, recovery codes replaced."""
    user = cast(User, request.user)
    devices = [{"kind": d.__class__.__name__, "name": d.name} for d in devices_for_user(user, confirmed=True)]
    return _page(request, "accounts/mfa_devices.html", "Your second factor", devices=devices)


@require_POST
@login_required
def recovery_codes_renew_view(request: HttpRequest) -> HttpResponse:
    if not session_verified_fresh(request):
        return redirect(f"{reverse('accounts:mfa-challenge')}?next={reverse('accounts:mfa-devices')}")
    user = cast(User, request.user)
    codes = recovery_codes_replace(user=user)
    journal_record(action="mfa.recovery_codes_replaced", actor=user, obj=None,
                   data={"user": user.get_username(), "recovery_codes": len(codes)})
    request.session[RECOVERY_CODES_SESSION_KEY] = codes
    return redirect("accounts:mfa-recovery-codes")


class PasskeyAuthenticationCompleteView(CompleteCredentialAuthenticationView):
    """django_otp_webauthn's, plus the step-up time (a passkey is a second factor like a code)."""

    def complete_auth(self, device: Any) -> Any:
        result = super().complete_auth(device)
        self.request.session[VERIFIED_AT_SESSION_KEY] = time.time()
        return result


class PasskeyRegistrationCompleteView(CompleteCredentialRegistrationView):
    """django_otp_webauthn's, journalled."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        first = not user_has_second_factor(self.request.user)
        response = super().post(*args, **kwargs)
        if response.status_code == 200:
            user = cast(User, self.request.user)
            journal_record(action="mfa.enrolled", actor=user, obj=None,
                           data={"user": user.get_username(), "kind": "passkey", "first_device": first})
            if first:
                self.request.session[VERIFIED_AT_SESSION_KEY] = time.time()
        return response
