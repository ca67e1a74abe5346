"""What every request pays: the liveness probe asks nothing of the database, and no page of the API is
larger than the maximum, whatever a client asks for."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from backoffice.core.api import Pages


@pytest.mark.django_db
def test_healthz_answers_ok_without_a_query_and_only_to_reads() -> None:
    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz")
    assert (response.status_code, response.content, response["Content-Type"]) == (200, b"ok", "text/plain")
    assert len(queries) == 0
    assert "no-cache" in response["Cache-Control"]  # a proxy must not answer for a process that died
    assert client.post("/healthz").status_code == 405


@pytest.mark.parametrize(("asked", "served"), [("100000", 200), ("201", 200), ("200", 200), ("7", 7), ("", 100),
                                                ("0", 100), ("-5", 100), ("many", 100)])
def test_a_page_is_never_larger_than_the_maximum_and_never_an_error(asked: str, served: int) -> None:
    request = Request(APIRequestFactory().get("/api/x/", {"page_size": asked} if asked else {}))
    pages = Pages()
    page: list[int] | None = pages.paginate_queryset(list(range(1000)), request)  # type: ignore[arg-type]
    assert page is not None and len(page) == served
    assert pages.get_paginated_response(page).data["count"] == 1000
