"""The inbox: its JSON at /api/inbox/, the count in the admin header and the module on the admin home
(both from the `inbox_context` context processor), and each user's notification preferences."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_POST
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backoffice.core.errors import InvalidInput

from .inbox import inbox_get
from .notifications import (
    kinds_muted,
    notification_preferences_set,
    notifications_mark_read,
    notifications_recent,
    notifications_unread_count,
    preferences_kinds,
)


def inbox_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the signed-in staff user's inbox and recent notifications, computed only if
    a template uses them (the header's count does on every admin page), once per request."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    return {"inbox": SimpleLazyObject(lambda: inbox_get(user)),
            "inbox_notifications": SimpleLazyObject(lambda: notifications_recent(user)),
            "inbox_unread": SimpleLazyObject(lambda: notifications_unread_count(user))}


class InboxView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="inbox", responses={200: OpenApiTypes.OBJECT},
                   summary="What waits for the signed-in user: {counts, items: [{kind, reference, title, status, "
                           "url, at, note, action}], notifications}")
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)
        inbox = inbox_get(user)
        return Response({
            "counts": {**inbox.counts, "unread_notifications": notifications_unread_count(user)},
            "items": [item.as_dict() for item in inbox.items],
            "notifications": [{"kind": n.kind, "title": n.title, "body": n.body, "url": n.url,
                               "at": n.created_at.isoformat(), "read": n.read_at is not None,
                               "mail": n.mail_status} for n in notifications_recent(user)],
        })


@login_required
def notification_preferences_page(request: HttpRequest) -> HttpResponse:
    """Which notifications the user gets by e-mail; alerts cannot be turned off."""
    user = cast(User, request.user)
    status = 200
    if request.method == "POST":
        wanted = set(request.POST.getlist("mailed"))
        chosen = [kind for kind, _, optional in preferences_kinds() if optional and kind not in wanted]
        # Anything posted that is no kind the page offers is refused, not ignored.
        unknown = sorted(wanted - {kind for kind, _, _ in preferences_kinds()})
        try:
            if unknown:
                raise InvalidInput(f"mailed: unknown notification kind {', '.join(unknown)}", field="mailed")
            notification_preferences_set(user=user, muted=chosen, actor=user)
        except InvalidInput as exc:
            messages.error(request, f"Not saved: {exc}")
            status = 400
        else:
            messages.success(request, "Your notification preferences are saved.")
            return redirect("accounts:notification-preferences")
    muted = kinds_muted(user)
    kinds = [{"kind": kind, "label": label, "optional": optional, "mailed": kind not in muted}
             for kind, label, optional in preferences_kinds()]
    return render(request, "accounts/notification_preferences.html", {
        **admin.site.each_context(request), "title": "Notification preferences", "kinds": kinds,
        "email": user.email,
    }, status=status)


@login_required
@require_POST
def notifications_read_view(request: HttpRequest) -> HttpResponse:
    notifications_mark_read(user=cast(User, request.user))
    return redirect("/admin/#inbox")
