"""The API bases every app's endpoints share: who may call what, refusals as HTTP answers, paging, and
the fields and shapes that mean the same everywhere (decimal strings, a reason, an error body).

Refusals keep one meaning in every app: 400 for input the service refused (InvalidInput; a field error is
listed under the field's name too), 409 when the object's state does not allow the step
(TransitionRefused), 403 when the role does not, 503 when the chain node cannot be asked. Nothing is
changed by any of them.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, cast

from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer, Serializer
from rest_framework.views import APIView

from backoffice.chain.client import ChainError
from backoffice.journal.services import TransitionRefused

from .amounts import DISPLAYED_DECIMAL, DecimalInvalid, decimal_parse, tokens_format
from .errors import InvalidInput

logger = logging.getLogger(__name__)


# --- fields and shapes ----------------------------------------------------------------------

@extend_schema_field({"type": "string", "format": "decimal", "pattern": f"^{DISPLAYED_DECIMAL.pattern}$",
                      "example": "2345.67"})
class DecimalStringField(serializers.Field):
    """A decimal written as a JSON string, plain ("2345.67"), as the pages show it ("2,345.67") or grouped
    with spaces ("2 345.67").

    A JSON number is refused even when it looks exact: by the time it reaches us the client may
    already have rounded it through a float. The grammar is `decimal_parse`'s, the same as the
    admin's forms: a comma only ever separates groups of three digits, so "1,5" (a decimal comma)
    and "1,2345.0" are refused, as are exponents and NaN, so that what the person typed is exactly
    what is recorded. Range and precision are the service's to judge, so its messages reach the
    user unchanged.
    """

    default_error_messages = {
        "not_a_string": 'send the amount as a string in plain decimal notation, e.g. "2345.67"',
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if not isinstance(data, str):
            self.fail("not_a_string")
        try:
            return decimal_parse(data, field=self.field_name or "value")
        except DecimalInvalid as exc:
            raise serializers.ValidationError(exc.problem, code="invalid") from exc

    def to_representation(self, value: Decimal) -> str:
        return str(value)


def _tokens(base_units: int) -> str:
    # Machine-readable: tokens_format's thousands separators are for people, not for parsers.
    return tokens_format(base_units).replace(",", "")


@extend_schema_field({"type": "string", "pattern": r"^\d+$", "example": "1250000000",
                      "description": "Base units (1 token = 1,000,000), as a string: uint256 overflows JSON numbers."})
class BaseUnitsField(serializers.Field):
    def to_representation(self, value: Any) -> str:
        return str(int(value))


@extend_schema_field({"type": "string", "format": "decimal", "pattern": r"^\d+\.\d{6}$", "example": "1250.000000",
                      "description": "Tokens with all six decimals, exact."})
class TokensField(serializers.Field):
    def to_representation(self, value: Any) -> str:
        return _tokens(int(value))


class ErrorSerializer(serializers.Serializer):
    """The body of every refusal; `errors` lists each bad row of a refused list (e.g. a bar list)."""

    detail = serializers.CharField()
    # Declared fields leave the class attributes (DRF's metaclass), so `errors` does not shadow Serializer.errors.
    errors = serializers.ListField(child=serializers.CharField(), required=False)  # type: ignore[assignment]


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why; recorded in the journal.")


REFUSALS: dict[int, Any] = {
    400: OpenApiResponse(ErrorSerializer, description="Input refused (a field error is also listed under "
                                                      "the field's name); nothing changed."),
    403: OpenApiResponse(ErrorSerializer, description="Not logged in, or the role does not allow it."),
    404: OpenApiResponse(ErrorSerializer, description="No such object."),
    409: OpenApiResponse(ErrorSerializer, description="The object's state does not allow it; nothing changed."),
}


class Pages(PageNumberPagination):
    """100 rows a page unless `page_size` asks for another size. More than `max_page_size` is served as
    `max_page_size`, not refused (DRF's rule; `next` links the rest): one request stays a bounded amount
    of work, whatever a client asks for."""

    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 200


# --- who may call what ----------------------------------------------------------------------

class ActionPermission(BasePermission):
    """The user needs the permission the view names for the action (`view.action_permissions`).

    One Django model permission per view action, so the API and the admin agree. An action missing
    from the map is refused: a new action is closed until someone decides who may call it, instead
    of silently open to every logged-in user.
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


# --- the viewset base -----------------------------------------------------------------------

def _field_errors_summary(detail: Any, prefix: str = "") -> str:
    """The first message of each field, as one line: 'reason: This field is required.'"""
    if isinstance(detail, dict):
        return "; ".join(_field_errors_summary(v, f"{prefix}{k}: " if k != "non_field_errors" else prefix)
                         for k, v in detail.items())
    if isinstance(detail, list) and detail:
        return _field_errors_summary(detail[0], prefix)
    return f"{prefix}{detail}"


class ServiceViewSet(viewsets.GenericViewSet):
    """Permissions by action, service refusals as HTTP answers, and the shared parse/present steps."""

    permission_classes = [ActionPermission]
    pagination_class: type[BasePagination] = Pages
    action_permissions: dict[str, str] = {}

    def refusal_of(self, exc: Exception) -> tuple[dict[str, Any], int] | None:
        """The answer to a refusal (body, status), or None for an exception that is no refusal. An app's
        viewset adds its own refusals by overriding this and falling back to it."""
        if isinstance(exc, InvalidInput) and exc.field:
            return {"detail": str(exc), exc.field: [str(exc)]}, status.HTTP_400_BAD_REQUEST  # beside its input
        if isinstance(exc, InvalidInput):
            return {"detail": str(exc)}, status.HTTP_400_BAD_REQUEST
        if isinstance(exc, ChainError):
            return ({"detail": f"the chain could not be read; nothing changed, try again: {exc}"},
                    status.HTTP_503_SERVICE_UNAVAILABLE)
        if isinstance(exc, TransitionRefused):
            return {"detail": str(exc)}, status.HTTP_409_CONFLICT
        if isinstance(exc, ValidationError) and isinstance(exc.detail, dict):
            # Keep DRF's per-field messages and add the one-line `detail` every other refusal has.
            return {"detail": _field_errors_summary(exc.detail), **exc.detail}, status.HTTP_400_BAD_REQUEST
        return None

    def handle_exception(self, exc: Exception) -> Response:
        refusal = self.refusal_of(exc)
        if refusal is None:
            return super().handle_exception(exc)
        return self.refusal_response(*refusal)

    def refusal_response(self, body: dict[str, Any], code: int) -> Response:
        """A refusal as an HTTP answer, logged once; nothing was changed by the request."""
        logger.info("api-refused view=%s action=%s user=%s status=%s", type(self).__name__, self.action,
                    self.request.user.pk, code)
        response = Response(body, status=code)
        response.exception = True
        return response

    def parsed(self, serializer_class: type[Serializer], request: Request) -> dict[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return cast(dict[str, Any], serializer.validated_data)

    def presented(self, pk: int, code: int = status.HTTP_200_OK) -> Response:
        """The object as it is now, read again through the annotated queryset."""
        serializer = cast(BaseSerializer, self.get_serializer(self.get_queryset().get(pk=pk)))
        return Response(serializer.data, status=code)
