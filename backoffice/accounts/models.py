"""The accounts app's tables. Each feature keeps its models in its own block below."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# --- API tokens (services and the authentication class: tokens.py; admin: admin_tokens.py) -----------


class ApiToken(models.Model):
    """A personal API token. Only the SHA-256 of its secret is stored: the secret is shown once, at creation.

    `prefix` is the secret's public head ("usdkg_ab12cd34"): enough to tell tokens apart in lists,
    the journal and logs, useless for authenticating.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What it is for, e.g. 'signing script on the laptop'.")
    prefix = models.CharField(max_length=32, unique=True, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)  # sha256 hex of the whole secret
    may_sign = models.BooleanField(
        default=False, help_text="Reserved: whether this token may approve or sign (not enforced yet).")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", editable=False)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"


# --- end API tokens ---------------------------------------------------------------------------------------
