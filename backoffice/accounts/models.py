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

# --- notifications (services: notifications.py, notices.py; tasks.py) -----------------------------------


class NotificationKind(models.TextChoices):
    APPROVAL_REQUESTED = "approval_requested", "A proposal awaits your approval"
    THRESHOLD_REACHED = "threshold_reached", "A proposal reached its threshold"
    EXECUTED = "executed", "A proposal was executed"
    FAILED = "failed", "A proposal failed"
    AUDIT_ASSIGNED = "audit_assigned", "An audit was assigned to you"
    ALERT = "alert", "Reconciliation alert"


# What nobody may turn off: a reconciliation alert means the chain and the books disagree.
ALWAYS_MAILED = frozenset({NotificationKind.ALERT})


class MailStatus(models.TextChoices):
    PENDING = "pending"  # the worker sends it
    SENT = "sent"
    OFF = "off"  # the user turned this kind off
    NO_ADDRESS = "no_address"  # the user has no e-mail address


class Notification(models.Model):
    """One event told to one user: shown on their inbox, mailed after the event commits.

    (user, kind, key) is unique, so an event (key: e.g. the transaction's id) tells each user once
    however many times the code that raises it runs."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    key = models.CharField(max_length=200)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    url = models.CharField(max_length=500, blank=True)  # a path on this site; the mail makes it absolute
    # The multisig transaction it is about, whose reference (ISS-0003) is read when shown or mailed: the
    # proposal that gives it that number is linked to it later in the same database transaction.
    transaction = models.ForeignKey("multisig.MultisigTransaction", null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    mail_status = models.CharField(max_length=20, choices=MailStatus.choices, default=MailStatus.PENDING)
    # Taken by the worker that sends it: another delivery of the same task finds it taken and stops.
    mail_claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "kind", "key"], name="notification_once_per_event")]
        indexes = [models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
                   models.Index(fields=["created_at"], condition=models.Q(mail_status="pending"),
                                name="notification_mail_pending")]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.key}"

    @property
    def reference(self) -> str:
        return self.transaction.reference if self.transaction is not None else ""

    @property
    def title(self) -> str:
        """The subject as shown and mailed: led by the proposal's reference when it is about one."""
        return f"{self.reference}: {self.subject}" if self.reference else self.subject


class NotificationPreference(models.Model):
    """The kinds a user turned off (by e-mail). No row: every kind on."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    muted = models.JSONField(default=list, blank=True)  # NotificationKind values, never ALWAYS_MAILED ones
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user}: off {', '.join(self.muted) or 'none'}"


# --- login throttling (services and the authentication backend: throttle.py; admin: admin_throttle.py) ----


class LoginLock(models.Model):
    """An account's consecutive failed passwords, and its lock once they reach LOGIN_LOCK_FAILURES.

    One row per user that ever failed (the unique user makes concurrent first failures share it); a
    success before the threshold sets `failures` back to 0. A locked account (`locked_at` set) stays
    locked, the right password included, until a superuser lifts the lock (throttle.login_lock_lift).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_lock")
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "login lock"
        ordering = ["-locked_at", "-last_failure_at", "pk"]
        indexes = [models.Index(fields=["locked_at"], name="login_lock_locked")]

    def __str__(self) -> str:
        return f"{self.user} ({'locked' if self.locked_at else f'{self.failures} failures'})"


class ThrottleKind(models.TextChoices):
    LOGIN = "login", "Password login"
    API_TOKEN = "api_token", "API token"  # noqa: S105 - a label, not a secret


class SourceThrottle(models.Model):
    """Failures from one source (IP) of one kind within a window; the source is refused until
    `blocked_until` once they reach the limit. (kind, source) is unique: one row counted under a lock."""

    kind = models.CharField(max_length=20, choices=ThrottleKind.choices)
    source = models.CharField(max_length=64)
    window_started_at = models.DateTimeField()
    failures = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "source throttle"
        constraints = [models.UniqueConstraint(fields=["kind", "source"], name="source_throttle_once")]
        indexes = [models.Index(fields=["kind", "window_started_at"], name="source_throttle_window")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source}: {self.failures}"


# --- end login throttling ------------------------------------------------------------------------------
