"""The edge, on PostgreSQL: a NUL byte anywhere is refused (400) or removed, never a 500, and a failed login
with one in its User-Agent is still journalled; every answer under /api/ is JSON, errors included, whatever
DEBUG is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.signals import user_login_failed
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.accounts.roles import Role
from backoffice.journal.context import Origin
from backoffice.journal.models import JournalEntry
from issuance import services
from issuance.models import Bar, Deposit, GoldPrice, Vault
from issuance.tests.factories import user_with_role

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def postgresql(db: None) -> None:
    # SQLite stores a NUL without complaint: there the tests below would pass without the fix.
    assert connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def people(roles: None) -> dict[str, User]:
    return {role: user_with_role(role, username=f"edge-{role}") for role in Role.ALL}


@pytest.fixture
def deposit(people: dict[str, User]) -> Deposit:
    vault = Vault.objects.create(name="Zurich 1", location="Zurich")
    return services.deposit_create(reference="DEP-EDGE", depositor="Refinery SA", vault=vault,
                                   actor=people[Role.OPERATOR])


def stored() -> tuple[Any, ...]:
    """What any write reached by these requests could change."""
    return (list(Deposit.objects.order_by("pk").values_list("pk", "state", "reference", "depositor")),
            Bar.objects.count(), GoldPrice.objects.count(),
            list(JournalEntry.objects.order_by("pk").values_list("pk", "action")))


def api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- NUL in the address: 400, never a 500 ------------------------------------------------------

@pytest.mark.parametrize(
    ("role", "url"),
    [
        (Role.OPERATOR, "/api/deposits/?state=%00"),
        (Role.OPERATOR, "/api/deposits/?state=draft%00"),
        (Role.OPERATOR, "/api/audits/?state=%00"),
        (Role.OPERATOR, "/api/deposits/%00/"),
        (Role.COMPLIANCE_OFFICER, "/api/compliance/cases/?address=%00"),
        (Role.COMPLIANCE_OFFICER, "/api/compliance/proposals/?status=%00"),
    ],
)
def test_a_nul_in_an_api_address_is_a_json_400(people, deposit, role, url):
    before = stored()
    response = api_as(people[role]).get(url)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert "NUL character" in response.json()["detail"]
    assert stored() == before


@pytest.mark.parametrize(
    "url",
    [
        "/admin/journal/journalentry/?action=%00",
        "/admin/compliance/complianceproposal/?action=%00",
        "/admin/issuance/deposit/?state__exact=%00",
        "/admin/issuance/deposit/?q=%00",
        "/admin/issuance/bar/?refiner=Valcambi%00",
        "/admin/issuance/deposit/%00/change/",
    ],
)
def test_a_nul_in_an_admin_address_is_a_plain_400(people, deposit, url):
    client = Client()
    client.force_login(people[Role.MANAGER])
    before = stored()
    response = client.get(url)
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    assert b"NUL character" in response.content and len(response.content) < 200
    assert stored() == before


def test_a_write_with_a_nul_in_its_query_string_is_refused_before_it_runs(people, deposit):
    before = stored()
    response = api_as(people[Role.OPERATOR]).post(
        "/api/deposits/?next=%00", {"reference": "DEP-2", "depositor": "Refinery SA", "vault": deposit.vault_id},
        format="json")
    assert response.status_code == 400 and "NUL character" in response.json()["detail"]
    assert stored() == before


# --- NUL in a body: the parsers refuse it, field by field ---------------------------------------

def test_a_nul_in_a_json_field_is_a_400_naming_the_field_and_nothing_is_written(people, deposit):
    before = stored()
    response = api_as(people[Role.OPERATOR]).post(
        "/api/deposits/", {"reference": "DEP-2", "depositor": "Refinery\u0000SA", "vault": deposit.vault_id},
        format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"] == "depositor: Null characters are not allowed."
    assert stored() == before


def test_a_nul_in_an_admin_form_field_is_a_form_error_and_nothing_is_written(people):
    client = Client()
    client.force_login(people[Role.OPERATOR])
    as_of = timezone.localtime() - timezone.timedelta(hours=1)
    before = stored()
    response = client.post("/admin/issuance/goldprice/add/", {"usd_per_oz": "2345.67", "source": "LBMA\x00PM",
                                                              "as_of_0": f"{as_of:%Y-%m-%d}",
                                                              "as_of_1": f"{as_of:%H:%M:%S}"})
    assert response.status_code == 200 and "Null characters are not allowed." in response.content.decode()
    assert stored() == before


def test_a_bar_list_with_a_nul_cell_sent_as_csv_is_refused_with_its_row(people, deposit):
    content = ("Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness\n"
               "E-1,Valcambi,2024,400.000,999.9\n"
               "E-2,Valc\x00ambi,2024,400.000,999.9\n")
    before = stored()
    response = api_as(people[Role.OPERATOR]).post(f"/api/deposits/{deposit.pk}/bars/", content.encode(),
                                                  content_type="text/csv")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == ["row 3: contains a NUL character (byte 0); save the list again as CSV UTF-8"]
    assert stored() == before


# --- NUL in a header: removed, and the request goes on -----------------------------------------

def test_a_failed_login_with_a_nul_in_its_user_agent_is_journalled_without_the_nul(people):
    response = Client().post("/admin/login/?next=/admin/", {"username": "edge-operator", "password": "wrong"},
                             HTTP_USER_AGENT="x\x00y")
    assert response.status_code == 200 and "Please enter the correct username and password" in response.content.decode()
    entry = JournalEntry.objects.get(action="auth.login_failed")
    assert (entry.actor_username, entry.origin_agent, entry.origin_ip) == ("edge-operator", "xy", "127.0.0.1")


def test_a_login_with_a_nul_in_its_user_agent_succeeds_and_is_journalled(people):
    user = people[Role.OPERATOR]
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    response = Client().post("/admin/login/?next=/admin/", {"username": user.username, "password": PASSWORD},
                             HTTP_USER_AGENT="Mozilla\x00/5.0")
    assert response.status_code == 302
    assert JournalEntry.objects.get(action="auth.login").origin_agent == "Mozilla/5.0"


def test_the_journal_drops_a_nul_from_an_origin_and_a_username_whoever_hands_them_over(db):
    User.objects.create_user("admin")  # a name that is no user's is not kept at all
    request = RequestFactory().get("/", HTTP_USER_AGENT="curl\x00/8")
    assert Origin.from_request(request).agent == "curl/8"
    user_login_failed.send(sender=__name__, credentials={"username": "ad\x00min"}, request=request)
    entry = JournalEntry.objects.get(action="auth.login_failed")
    assert (entry.actor_username, entry.data["username"], entry.origin_agent) == ("admin", "admin", "curl/8")


# --- every /api/ answer is JSON ----------------------------------------------------------------

def _assert_json_error(response: Any, status: int, detail: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = response.json()
    assert detail in body["detail"], body
    return body


@pytest.mark.parametrize("debug", [False, True])
def test_an_address_no_api_route_matches_is_a_json_404(people, debug):
    client = api_as(people[Role.OPERATOR])
    with override_settings(DEBUG=debug):
        for url in ("/api/nonexistent/", "/api/multisig/transactions/0.5/typed-data/",
                    "/api/deposits/1/no-such-action/"):
            _assert_json_error(client.get(url), 404, f"not found: nothing at {url}; the endpoints are listed at "
                                                     f"/api/docs/")
        _assert_json_error(Client().get("/api/nonexistent/"), 404, "not found")  # not even logged in


@pytest.mark.parametrize("debug", [False, True])
def test_an_api_form_with_too_many_fields_is_a_json_400_and_nothing_is_written(people, deposit, settings, debug):
    settings.DEBUG = debug
    fields = {f"field{n}": "x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    upload = SimpleUploadedFile("bars.csv", b"Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness\n"
                                            b"T-1,Valcambi,2024,400.000,999.9\n", content_type="text/csv")
    before = stored()
    response = api_as(people[Role.OPERATOR]).post(f"/api/deposits/{deposit.pk}/bars/", {**fields, "file": upload},
                                                  format="multipart")
    _assert_json_error(response, 400, f"the form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields")
    assert stored() == before


@pytest.mark.parametrize("debug", [False, True])
def test_an_api_body_too_big_is_a_json_400_and_nothing_is_written(people, deposit, settings, debug):
    settings.DEBUG, settings.DATA_UPLOAD_MAX_MEMORY_SIZE = debug, 10_000
    client = Client()  # a browser session: Django reads the form itself for the CSRF check
    client.force_login(people[Role.OPERATOR])
    before = stored()
    response = client.post("/api/prices/", f"source={'x' * 20_000}&usd_per_oz=2345.67",
                           content_type="application/x-www-form-urlencoded")
    _assert_json_error(response, 400, "the request body is larger than 10000 bytes")
    assert stored() == before


@pytest.mark.parametrize("debug", [False, True])
def test_a_method_the_api_does_not_take_is_a_json_405_with_its_allow_header(people, debug):
    with override_settings(DEBUG=debug):
        body = _assert_json_error(api_as(people[Role.OPERATOR]).post("/api/docs/"), 405, 'Method "POST" not allowed')
        assert set(body) == {"detail"}
        response = api_as(people[Role.OPERATOR]).delete("/api/deposits/", HTTP_ACCEPT="text/html")
        _assert_json_error(response, 405, 'Method "DELETE" not allowed')
        assert "GET" in response["Allow"]


def test_a_browser_refused_by_the_api_gets_json_with_drfs_message(db):
    response = Client().get("/api/deposits/", HTTP_ACCEPT="text/html")
    _assert_json_error(response, 403, "Authentication credentials were not provided.")


@pytest.mark.parametrize("debug", [False, True])
def test_a_crash_under_the_api_is_a_json_500(people, settings, monkeypatch, debug):
    settings.DEBUG = debug

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug, not an input error")

    # A real bug in a real view: the list's queryset cannot be built.
    monkeypatch.setattr("issuance.api.views.DepositViewSet.get_queryset", crash)
    client = Client(raise_request_exception=False)
    client.force_login(people[Role.OPERATOR])
    body = _assert_json_error(client.get("/api/deposits/"), 500, "the server failed to answer; the error was logged")
    assert "a bug" not in str(body)  # the traceback stays in the log, even with DEBUG on


def test_answers_outside_the_api_keep_their_html(db):
    response = Client().get("/reserve/nonexistent/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
