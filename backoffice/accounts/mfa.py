"""The second factor: enrolment, verification, and the step-up check before money moves.

Every signed-in session must pass a second factor (TOTP from an authenticator app, a recovery code, or
a passkey) before it reaches anything (middleware.SecondFactorMiddleware). On top of that, the steps
that move money or act on an address (approving, signing, handing in a raw transaction, proposing,
cancelling, every compliance action) need a verification within the last STEP_UP_SECONDS: the time of
the last one is kept in the session, and the check lives here only (`StepUpRequired` for the API,
`step_up_required` for views, `step_up_redirect` for admin views).

Personal API tokens are no sessions: they never pass a second factor. A token may take a step-up action
only if it was created with `may_sign`, a deliberate grant by its user (who passed the second factor to
create it); such a token counts as stepped-up.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY, devices_for_user
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from backoffice.core.errors import InvalidInput
from backoffice.journal.services import journal_record

from .models import ApiToken

# Session keys: when the second factor was last passed (epoch seconds), and the recovery codes to show once.
VERIFIED_AT_SESSION_KEY = "mfa_verified_at"
RECOVERY_CODES_SESSION_KEY = "mfa_recovery_codes"
RECOVERY_CODES = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"

AnyUser = User | AnonymousUser | AbstractBaseUser


def step_up_seconds() -> int:
    return int(getattr(settings, "STEP_UP_SECONDS", 300))


def user_has_second_factor(user: AnyUser) -> bool:
    """Whether the user has a confirmed device of any kind (TOTP, recovery codes, passkey)."""
    return user.is_authenticated and any(True for _ in devices_for_user(user, confirmed=True))


def user_is_verified(user: AnyUser) -> bool:
    """Whether this session passed the second factor (django_otp's middleware sets `is_verified`)."""
    is_verified = getattr(user, "is_verified", None)
    return bool(user.is_authenticated and callable(is_verified) and is_verified())


def session_verified_mark(request: HttpRequest, device: Device) -> None:
    """The session passed `device`: django_otp's login, and now is the last step-up."""
    otp_login(request, device)
    request.session[VERIFIED_AT_SESSION_KEY] = time.time()


def session_verified_fresh(request: HttpRequest | Request) -> bool:
    """This session passed the second factor of the request's user, within the last STEP_UP_SECONDS.

    Read from the session as django_otp's middleware reads it (the device it stored, confirmed and the
    user's), not from `user.is_verified`: DRF may have replaced the request's user object."""
    persistent_id = request.session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if isinstance(persistent_id, str) else None
    if device is None or not device.confirmed or device.user_id != request.user.pk or request.user.pk is None:
        return False
    verified_at = request.session.get(VERIFIED_AT_SESSION_KEY)
    return isinstance(verified_at, int | float) and 0 <= time.time() - verified_at <= step_up_seconds()


def challenge_url(next_url: str = "") -> str:
    url = reverse("accounts:mfa-challenge")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def enrol_url(next_url: str = "") -> str:
    url = reverse("accounts:mfa-enrol")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


# --- enrolment and verification (services) --------------------------------------------------------
def totp_enrolment_start(*, user: User) -> TOTPDevice:
    """The user's unconfirmed TOTP device, made once and reused until confirmed (its secret is shown)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=TOTP_NAME).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def totp_enrolment_confirm(*, user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending TOTP device with a code from the app; make fresh recovery codes and return them.

    Refused (InvalidInput, journalled, nothing confirmed) for a wrong code. The codes exist in clear only
    in the answer: show them once."""
    code = (code or "").strip().replace(" ", "")
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False, name=TOTP_NAME) \
            .order_by("pk").first()
        if device is None:
            raise InvalidInput("No enrolment is pending: open the enrolment page again.", field="code")
        # A refusal still commits: the device's throttling counts it, and the journal below records it.
        accepted = code.isdigit() and device.verify_token(code)
        if accepted:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            codes = recovery_codes_replace(user=user)
            journal_record(action="mfa.enrolled", actor=user, obj=device,
                           data={"user": user.get_username(), "kind": "totp", "recovery_codes": len(codes)})
    if not accepted:
        journal_record(action="mfa.verification_failed", actor=user, obj=device,
                       data={"user": user.get_username(), "during": "enrolment"})
        raise InvalidInput("That code is not the one your app shows now: nothing was enrolled. Check the "
                           "phone's clock and try the next code.", field="code")
    return device, codes


def recovery_codes_replace(*, user: User) -> list[str]:
    """New recovery codes for `user` (the old ones stop working); returned in clear once."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_NAME, defaults={"confirmed": True})
        device.token_set.all().delete()
        # 48 random bits each, "xxxx-xxxx-xxxx" (django_otp keeps at most 16 characters).
        codes = ["-".join(secrets.token_hex(2) for _ in range(3)) for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


def second_factor_verify(*, user: User, code: str) -> Device:
    """The device that accepts `code` (a TOTP code or an unused recovery code, which is then spent).

    Refused (InvalidInput, journalled) otherwise. A recovery code's use is journalled with how many remain."""
    code = (code or "").strip().replace(" ", "").lower()
    with transaction.atomic():
        if code:
            for device in devices_for_user(user, confirmed=True, for_verify=True):
                if isinstance(device, TOTPDevice) and code.isdigit() and device.verify_token(code):
                    return device
            for device in devices_for_user(user, confirmed=True, for_verify=True):
                if isinstance(device, StaticDevice) and device.verify_token(code):
                    journal_record(action="mfa.recovery_code_used", actor=user, obj=device,
                                   data={"user": user.get_username(), "remaining": device.token_set.count()})
                    return device
        journal_record(action="mfa.verification_failed", actor=user, obj=None,
                       data={"user": user.get_username(), "during": "challenge"})
    raise InvalidInput("That code was not accepted: nothing is unlocked. Enter the code your app shows now, or "
                       "one of your recovery codes.", field="code")


# --- the step-up check, in one place --------------------------------------------------------------
STEP_UP_MESSAGE = ("Confirm your second factor first: this step needs one within the last {minutes} minutes. "
                   "Nothing was done.")


def step_up_message() -> str:
    return STEP_UP_MESSAGE.format(minutes=max(1, step_up_seconds() // 60))


class StepUpNeeded(exceptions.APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "step_up_required"

    def __init__(self, next_url: str = "") -> None:
        super().__init__()
        # A dict detail becomes the body as it is: {"detail": ..., "step_up": url}.
        self.detail = {"detail": ErrorDetail(step_up_message(), self.default_code),
                       "step_up": ErrorDetail(challenge_url(next_url), self.default_code)}


class TokenMayNotSign(exceptions.PermissionDenied):
    default_detail = ("This API token may not approve, sign or propose: create a token with 'May sign' in the "
                      "admin (API tokens -> Add). Nothing was done.")


class StepUpRequired(BasePermission):
    """DRF permission: the view's `step_up_actions` (action names) need a fresh second factor, or a
    `may_sign` API token; every other action passes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if getattr(view, "action", None) not in getattr(view, "step_up_actions", ()):
            return True
        if isinstance(request.auth, ApiToken):
            if request.auth.may_sign:
                return True
            raise TokenMayNotSign
        if session_verified_fresh(request):
            return True
        raise StepUpNeeded(request.headers.get("Referer", ""))


def step_up_redirect(request: HttpRequest, next_url: str = "") -> HttpResponse | None:
    """For pages (admin views included): None when the session is freshly verified, else the redirect to
    the challenge (with a message) that comes back to `next_url` (default: this page)."""
    if session_verified_fresh(request):
        return None
    messages.warning(request, step_up_message())
    return redirect(challenge_url(next_url or request.get_full_path()))


def step_up_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """View decorator: a POST needs a fresh second factor (GETs only show)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" and (refusal := step_up_redirect(request, request.META.get("HTTP_REFERER", ""))):
            return refusal
        return view(request, *args, **kwargs)

    return wrapped
