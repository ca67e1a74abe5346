"""Who may call what: one Django model permission per view action, so the API and the admin agree."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from issuance.models import Audit


class ActionPermission(BasePermission):
    """The user needs the permission the view names for the action (`view.action_permissions`).

    An action missing from the map is refused: a new action is closed until someone decides who
    may call it, instead of silently open to every logged-in user.
    """

    message = "your role does not allow this"

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        # OPTIONS has no action of its own; it describes the endpoint, so reading is enough.
        action = getattr(view, "action", None) or "metadata"
        permission = getattr(view, "action_permissions", {}).get(action)
        return permission is not None and user.has_perm(permission)


class NamedAuditorConducts(BasePermission):
    """Only the auditor named on an audit may act on it; the others may still read it.

    The service refuses too; checking here as well makes that refusal a 403 like every other
    permission refusal, instead of a state conflict.
    """

    message = "only the auditor named on this audit may conduct it"

    def has_object_permission(self, request: Request, view: APIView, obj: Any) -> bool:
        if getattr(view, "action", None) not in getattr(view, "conduct_actions", ()):
            return True
        return isinstance(obj, Audit) and obj.is_conducted_by(request.user)
