"""The API schema says every answer an operation can give (found missing by the fuzzing in
backoffice/tests/test_api_fuzz.py): the refusals every view gives alike are added here, once, rather than
to each of the read-only views.
"""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}  # backoffice.core.api.ErrorSerializer
_HTTP_METHODS = {"get", "put", "patch", "post", "delete", "head", "options", "trace"}


def _refusal(description: str, error_known: bool) -> dict[str, Any]:
    if not error_known:  # a partial schema (a test's) that holds no Error component
        return {"description": description}
    return {"content": {"application/json": {"schema": _ERROR}}, "description": description}


def refusals_complete(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular postprocessing hook. Adds, where an operation does not document them already:
    403 to every operation that needs a login (DRF answers 403, not 401, with session authentication
    first), 404 to every operation with a path parameter (no such object) or a page (past the last
    page), 400 to every operation with query parameters (a filter refused) or a path parameter that is not
    a number (an address, say, that is not one)."""
    error_known = "Error" in result.get("components", {}).get("schemas", {})
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            parameters = operation.get("parameters", [])
            security = operation.get("security", [])
            if security and {} not in security:
                responses.setdefault("403", _refusal("Not logged in, or the role does not allow it.", error_known))
            in_query = {p["name"] for p in parameters if p.get("in") == "query"}
            if any(p.get("in") == "path" for p in parameters) or "page" in in_query:
                responses.setdefault("404", _refusal("No such object, or no such page.", error_known))
            textual_path = any(p.get("in") == "path" and p.get("schema", {}).get("type") != "integer"
                               for p in parameters)
            if in_query or textual_path:
                responses.setdefault("400", _refusal("A query parameter refused; nothing changed.", error_known))
    return result
