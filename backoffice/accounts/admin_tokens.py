"""API tokens in the admin: every staff user adds (secret shown once), lists and revokes their own.

Registered from AccountsConfig.ready. Tokens are never edited or deleted here: a revoked or expired
row stays, so the journal's prefix always leads to a row.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms, http
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.template.response import TemplateResponse

from backoffice.core.errors import InvalidInput

from .models import ApiToken
from .tokens import DEFAULT_DAYS, MAX_DAYS, api_token_create, api_token_revoke, user_is_token_admin


class ApiTokenCreateForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. 'signing script on my laptop'.")
    expires_in_days = forms.IntegerField(label="Expires in (days)", min_value=1, max_value=MAX_DAYS,
                                         initial=DEFAULT_DAYS, help_text=f"1 to {MAX_DAYS} days.")
    may_sign = forms.BooleanField(required=False, label="May sign",
                                  help_text="Reserved for a later release: not enforced yet.")


def _staff(request: http.HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_staff)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "prefix", "user", "status_shown", "created_at", "expires_at", "last_used_at")
    list_filter = ("revoked_at",)
    fields = ("name", "prefix", "user", "status_shown", "may_sign", "created_at", "expires_at", "last_used_at",
              "revoked_at", "revoked_by")
    readonly_fields = fields
    actions = ["revoke_selected"]

    def get_queryset(self, request: http.HttpRequest) -> QuerySet[ApiToken]:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if user_is_token_admin(request.user) else queryset.filter(user_id=request.user.pk)

    # Every staff user manages their own tokens, whatever their role's model permissions.
    def has_module_permission(self, request: http.HttpRequest) -> bool:
        return _staff(request)

    def has_view_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        return _staff(request)

    def has_add_permission(self, request: http.HttpRequest) -> bool:
        return _staff(request)

    def has_change_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: http.HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="status")
    def status_shown(self, obj: ApiToken) -> str:
        return obj.status

    def add_view(self, request: http.HttpRequest, form_url: str = "",
                 extra_context: dict[str, Any] | None = None) -> http.HttpResponse:
        if not self.has_add_permission(request):
            raise http.Http404
        form = ApiTokenCreateForm(request.POST if request.method == "POST" else None)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "title": "Add API token",
                   "form": form}
        if request.method == "POST" and form.is_valid():
            try:
                token, secret = api_token_create(user=cast(User, request.user), name=form.cleaned_data["name"],
                                                 expires_in_days=form.cleaned_data["expires_in_days"],
                                                 may_sign=form.cleaned_data["may_sign"])
            except InvalidInput as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                # Shown in this answer only (the admin marks it no-store): no redirect, no message kept in
                # the session or a cookie.
                return TemplateResponse(request, "admin/accounts/apitoken/created.html",
                                        {**context, "title": "API token created", "token": token, "secret": secret})
        return TemplateResponse(request, "admin/accounts/apitoken/add.html", context)

    @admin.action(description="Revoke selected API tokens")
    def revoke_selected(self, request: http.HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        for token in queryset.order_by("pk"):
            try:
                api_token_revoke(token_id=token.pk, actor=cast(User, request.user))
            except InvalidInput as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, f"Revoked {token.prefix} ({token.name}).", messages.SUCCESS)
