"""Login locks in the admin: superusers list the accounts locked (or counting failures) and lift locks.

Registered from AccountsConfig.ready. Rows are never edited or deleted here: lifting goes through
`login_lock_lift`, which journals it. Lift from the list (the "Lift lock" action on the selected
rows) or by POST to lift/<user id>/ (scripts, links from elsewhere in the admin).
"""

from __future__ import annotations

from typing import Any, cast

from django import http
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.shortcuts import redirect
from django.urls import URLPattern, path
from django.views.decorators.http import require_POST

from backoffice.core.errors import InvalidInput

from .models import LoginLock
from .throttle import login_lock_lift, user_is_lock_admin


class LockedFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "locked"

    def lookups(self, request: http.HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Locked"), ("no", "Counting failures")]

    def queryset(self, request: http.HttpRequest, queryset: QuerySet[LoginLock]) -> QuerySet[LoginLock]:
        if self.value() == "yes":
            return queryset.filter(locked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(locked_at__isnull=True)
        return queryset


@admin.register(LoginLock)
class LoginLockAdmin(admin.ModelAdmin):
    list_display = ("user", "status_shown", "failures", "last_failure_at", "locked_at")
    list_filter = (LockedFilter,)
    search_fields = ("user__username",)
    fields = ("user", "status_shown", "failures", "last_failure_at", "locked_at")
    readonly_fields = fields
    actions = ["lift_selected"]

    def get_queryset(self, request: http.HttpRequest) -> QuerySet[LoginLock]:
        return super().get_queryset(request).select_related("user")

    def has_module_permission(self, request: http.HttpRequest) -> bool:
        return user_is_lock_admin(request.user)

    def has_view_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        return user_is_lock_admin(request.user)

    def has_add_permission(self, request: http.HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="status")
    def status_shown(self, obj: LoginLock) -> str:
        return "locked" if obj.locked_at else "counting failures"

    def get_urls(self) -> list[URLPattern]:
        lift = self.admin_site.admin_view(require_POST(self.lift_view))
        return [path("lift/<int:user_id>/", lift, name="accounts_loginlock_lift"), *super().get_urls()]

    def lift_view(self, request: http.HttpRequest, user_id: int) -> http.HttpResponse:
        if not user_is_lock_admin(request.user):
            raise PermissionDenied("Only a superuser may lift a login lock.")
        self._lift(request, user_id)
        return redirect("admin:accounts_loginlock_changelist")

    def _lift(self, request: http.HttpRequest, user_id: int) -> None:
        try:
            lock = login_lock_lift(user_id=user_id, actor=cast(User, request.user))
        except InvalidInput as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Lifted the lock on {lock.user.get_username()}: they may log in again.",
                              messages.SUCCESS)

    @admin.action(description="Lift lock")
    def lift_selected(self, request: http.HttpRequest, queryset: QuerySet[LoginLock]) -> None:
        if not user_is_lock_admin(request.user):
            raise PermissionDenied("Only a superuser may lift a login lock.")
        for lock in queryset.order_by("pk"):
            self._lift(request, lock.user_id)
