"""Authentication events go to the journal. Django reports them only as signals, so we listen."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_save, pre_save
from django.dispatch import receiver

from .context import Origin, current_origin
from .logins import login_failure_record
from .services import journal_record

User = get_user_model()


@receiver(user_logged_in)
def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    journal_record(action="auth.login", actor=user, obj=user, origin=Origin.from_request(request))


@receiver(user_logged_out)
def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        journal_record(action="auth.logout", actor=user, obj=user, origin=Origin.from_request(request))


@receiver(user_login_failed)
def _on_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    # Counted per source and minute, the username kept only if it names a user (backoffice.journal.logins).
    origin = Origin.from_request(request) if request is not None else (current_origin.get() or Origin())
    login_failure_record(username=str(credentials.get("username", "")), origin=origin)


@receiver(m2m_changed, sender=User.groups.through)
def _on_roles_changed(sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any) -> None:
    """Role grants and revocations, wherever they are made (admin, shell, seed), from either side."""
    if action not in {"post_add", "post_remove", "pre_clear"}:
        return
    if isinstance(instance, Group):  # group.user_set.add(...): one entry per user, as from the user side
        if action == "pre_clear":
            users = list(instance.user_set.all())
        else:
            users = list(User.objects.filter(pk__in=pk_set or set()))
        for user in users:
            verb = "granted" if action == "post_add" else "revoked"
            journal_record(action=f"role.{verb}", obj=user, data={"roles": [instance.name],
                                                                  "user": user.get_username()})
        return
    if not isinstance(instance, User):
        return
    if action == "pre_clear":
        names = sorted(instance.groups.values_list("name", flat=True))
    else:
        names = sorted(Group.objects.filter(pk__in=pk_set or set()).values_list("name", flat=True))
    if names:
        verb = "granted" if action == "post_add" else "revoked"
        journal_record(action=f"role.{verb}", obj=instance, data={"roles": names, "user": instance.get_username()})


@receiver(m2m_changed, sender=User.user_permissions.through)
def _on_user_permissions_changed(sender: Any, instance: Any, action: str, pk_set: set[int] | None,
                                 **kwargs: Any) -> None:
    """A permission given to a person directly, outside any role: as sensitive as a role change."""
    if action not in {"post_add", "post_remove", "pre_clear"} or not isinstance(instance, User):
        return
    from django.contrib.auth.models import Permission

    permissions = (instance.user_permissions.all() if action == "pre_clear"
                   else Permission.objects.filter(pk__in=pk_set or set()))
    names = sorted(f"{p.content_type.app_label}.{p.codename}" for p in permissions.select_related("content_type"))
    if names:
        verb = "granted" if action == "post_add" else "revoked"
        journal_record(action=f"permission.{verb}", obj=instance,
                       data={"permissions": names, "user": instance.get_username()})


_FLAGS = ("is_superuser", "is_staff", "is_active")


@receiver(pre_save, sender=User)
def _remember_flags(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.pk:
        instance._journal_flags = User.objects.filter(pk=instance.pk).values(*_FLAGS).first()


@receiver(post_save, sender=User)
def _on_flags_changed(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    """Superuser, staff and active switches, wherever they are flipped (admin, shell, createsuperuser)."""
    before = {} if created else (getattr(instance, "_journal_flags", None) or {})
    changed = {f: getattr(instance, f) for f in _FLAGS if before.get(f) != getattr(instance, f)}
    if created:
        changed = {f: v for f, v in changed.items() if v and f != "is_active"}
    if changed:
        journal_record(action="user.flags_changed", obj=instance,
                       data={"user": instance.get_username(), **changed})
