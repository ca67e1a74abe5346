"""Personal API tokens: created, listed and revoked by their user in the admin, never through the shell.

The secret ("usdkg_<12 hex>_<43 url-safe characters>", 256 random bits after the prefix) is returned
once by `api_token_create` and never stored: the table keeps its SHA-256 (the secret is high-entropy,
so a fast unsalted hash is enough and lets a request find its row by an index) and its public prefix.
Clients send it as `Authorization: Token <secret>` (or `Bearer <secret>`).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from backoffice.core.errors import InvalidInput
from backoffice.journal.services import journal_record

from .models import ApiToken, ThrottleKind
from .throttle import request_source, source_blocked_until, source_failure_record, source_refusal_message

logger = logging.getLogger(__name__)

SECRET_HEAD = "usdkg_"  # noqa: S105 - the public head of every secret, not a secret
KEYWORDS = (b"token", b"bearer")
# Days a new token lives unless its user says otherwise, and the most they may ask for.
DEFAULT_DAYS: int = getattr(settings, "API_TOKEN_DEFAULT_DAYS", 90)
MAX_DAYS: int = getattr(settings, "API_TOKEN_MAX_DAYS", 365)
# last_used_at is written at most this often per token: not one UPDATE per API call.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_is_token_admin(user: User | AnonymousUser | AbstractBaseUser) -> bool:
    """Who may see and revoke everyone's tokens: superusers only.

    A leaked token must be revocable when its user is away, but managers read and never act (roles.py),
    so this is left to the superuser, the one who can already disable the user altogether.
    """
    return bool(user.is_authenticated and getattr(user, "is_superuser", False))


def api_token_create(*, user: User, name: str, expires_in_days: int = DEFAULT_DAYS,
                     may_sign: bool = False) -> tuple[ApiToken, str]:
    """Create a token for `user`; return it and its secret, which exists nowhere else from now on.

    Refuses (InvalidInput, nothing saved) an empty or too long name, an inactive user, and a lifetime
    outside 1..MAX_DAYS days. Journalled with the prefix, never the secret.
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Give the token a name, e.g. what will use it.", field="name")
    if len(name) > ApiToken._meta.get_field("name").max_length:  # type: ignore[operator]
        raise InvalidInput("The name is too long (at most 100 characters).", field="name")
    if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int) or not (
            1 <= expires_in_days <= MAX_DAYS):
        raise InvalidInput(f"A token lives from 1 to {MAX_DAYS} days.", field="expires_in_days")
    if not user.is_active:
        raise InvalidInput("An inactive user cannot have API tokens.")
    public = secrets.token_hex(6)
    secret = f"{SECRET_HEAD}{public}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=f"{SECRET_HEAD}{public}", digest=_digest(secret),
                                        may_sign=bool(may_sign), created_at=now,
                                        expires_at=now + timedelta(days=expires_in_days))
        journal_record(action="api_token.created", actor=user, obj=token,
                       data={"prefix": token.prefix, "name": name, "user": user.get_username(),
                             "expires_at": token.expires_at.isoformat(), "may_sign": token.may_sign})
    logger.info("api-token-created token-id=%s prefix=%s user=%s", token.pk, token.prefix, user.pk)
    return token, secret


def api_token_revoke(*, token_id: int, actor: User, reason: str = "") -> ApiToken:
    """Revoke a token at once: its next request is refused. Its user may; a superuser may revoke anyone's.

    Refuses (InvalidInput, nothing changed) someone else's token and a token already revoked.
    """
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("user").filter(pk=token_id).first()
        if token is None or (token.user_id != actor.pk and not user_is_token_admin(actor)):
            raise InvalidInput("No such API token of yours.")
        if token.revoked_at is not None:
            raise InvalidInput(f"The token {token.prefix} was already revoked.")
        token.revoked_at, token.revoked_by = timezone.now(), actor
        token.save(update_fields=["revoked_at", "revoked_by"])
        journal_record(action="api_token.revoked", actor=actor, obj=token, state_before="active",
                       state_after="revoked", reason=reason,
                       data={"prefix": token.prefix, "name": token.name, "user": token.user.get_username()})
    logger.info("api-token-revoked token-id=%s prefix=%s by=%s", token.pk, token.prefix, actor.pk)
    return token


class ApiTokenRefused(exceptions.APIException):
    """401 with the reason. Not an AuthenticationFailed: DRF would turn that into a 403 whenever the first
    authentication class (the session's) names no WWW-Authenticate scheme."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "api_token_refused"
    auth_header = 'Token realm="api"'


class ApiTokenUnknown(ApiTokenRefused):
    """No token has this secret: the failure counted per source (a guess, not a revoked or expired token)."""


class ApiTokenSourceThrottled(exceptions.APIException):
    """429: too many unknown tokens from this source within the window (backoffice.accounts.throttle)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "api_token_source_throttled"


def api_token_authenticate(*, secret: str) -> ApiToken:
    """The live token whose secret this is, its last use noted; ApiTokenRefused says why not."""
    token = ApiToken.objects.select_related("user").filter(digest=_digest(secret)).first()
    if token is None:
        raise ApiTokenUnknown("Unknown API token. Create one in the admin: API tokens -> Add.")
    if token.revoked_at is not None:
        raise ApiTokenRefused(f"This API token ({token.prefix}) was revoked at {token.revoked_at.isoformat()}.")
    now = timezone.now()
    if token.expires_at <= now:
        raise ApiTokenRefused(f"This API token ({token.prefix}) expired at {token.expires_at.isoformat()}. "
                              "Create a new one in the admin.")
    if not token.user.is_active:
        raise ApiTokenRefused(f"The user of this API token ({token.prefix}) is inactive.")
    # Conditional: concurrent requests write at most once per resolution window; a token used within it (the
    # row just read says so) costs no UPDATE at all.
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)).update(last_used_at=now)
    return token


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <secret>` or `Bearer <secret>`; no such header: the next class decides."""

    def authenticate(self, request: Request) -> tuple[User, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        # Guessing secrets is throttled per source like guessing passwords: refused before any lookup.
        source = request_source(request)
        until = source_blocked_until(kind=ThrottleKind.API_TOKEN, source=source)
        if until is not None:
            source_failure_record(kind=ThrottleKind.API_TOKEN, source=source)
            raise ApiTokenSourceThrottled(source_refusal_message(until))
        if len(parts) != 2:
            raise ApiTokenRefused("Send the token as 'Authorization: Token <secret>', one secret, no spaces.")
        try:
            token = api_token_authenticate(secret=parts[1].decode())
        except (UnicodeDecodeError, ApiTokenUnknown):
            source_failure_record(kind=ThrottleKind.API_TOKEN, source=source)
            raise ApiTokenUnknown("Unknown API token. Create one in the admin: API tokens -> Add.") from None
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return ApiTokenRefused.auth_header


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """How the schema (and Swagger UI's Authorize button) describes the header."""

    target_class = "backoffice.accounts.tokens.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <secret>`: a personal API token from the admin (API tokens -> Add)."}
