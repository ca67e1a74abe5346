"""Who may call what beyond the permission per action (backoffice.core.api.ActionPermission)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from issuance.models import Audit


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
