"""The admin: each role sees exactly its transitions as buttons, and the buttons run the services."""

import re
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backoffice.accounts.roles import Role
from backoffice.journal.models import JournalEntry
from issuance.models import Bar, BarListImport, Deposit, DepositState, ImportState

from .factories import VaultFactory, bar_csv, deposit_make, user_with_role

pytestmark = pytest.mark.django_db

BARS = [("A100", "400.000", "999.9", ""), ("A101", "401.250", "999.5", "")]


def _buttons(page: str) -> set[str]:
    """Names of the transition buttons on an admin page (django-fsm-2 spreads them over lines)."""
    return set(re.findall(r'name="_fsm_transition_to"\s+value="(\w+)"', page))


@pytest.fixture
def people(roles):
    return {role: user_with_role(role, username=f"{role}-user") for role in Role.ALL}


@pytest.fixture
def deposit(people):
    return deposit_make(operator=people[Role.OPERATOR], vault=VaultFactory(name="Zurich"), reference="ADM-1",
                        csv=bar_csv(BARS))


def _page(client, user, deposit):
    client.force_login(user)
    return client.get(f"/admin/issuance/deposit/{deposit.pk}/change/").content.decode()


def test_each_role_sees_exactly_its_buttons(client, people, deposit):
    for role, user in people.items():
        page = _page(client, user, deposit)
        shown = _buttons(page)
        expected = {"receive", "reject"} if role == Role.CUSTODIAN else set()
        assert shown == expected, role


def test_managers_read_everything_and_cannot_change_anything(client, people, deposit):
    client.force_login(people[Role.MANAGER])
    for url in ("/admin/issuance/deposit/", f"/admin/issuance/deposit/{deposit.pk}/change/", "/admin/issuance/bar/",
                "/admin/issuance/audit/", "/admin/issuance/goldprice/", "/admin/journal/journalentry/"):
        assert client.get(url).status_code == 200, url
    journal = JournalEntry.objects.count()
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/change/", {"_fsm_transition_to": "verify"})
    assert response.status_code == 403
    assert client.get("/admin/issuance/deposit/add/").status_code == 403
    assert client.post("/admin/issuance/goldprice/add/", {"usd_per_oz": "1", "source": "x"}).status_code == 403
    deposit.refresh_from_db()
    assert deposit.state == DepositState.DRAFT and JournalEntry.objects.count() == journal


def test_the_custodians_button_runs_the_service_with_the_uploaded_receipt(client, people, deposit):
    client.force_login(people[Role.CUSTODIAN])
    url = f"/admin/issuance/deposit/{deposit.pk}/transition/receive/"
    response = client.post(url, {"receipt": SimpleUploadedFile("receipt.pdf", b"%PDF receipt")})
    assert response.status_code == 302
    deposit.refresh_from_db()
    assert deposit.state == DepositState.RECEIVED and len(deposit.receipt_sha256) == 64
    entry = JournalEntry.objects.get(action="issuance.deposit.receive")
    assert entry.actor == people[Role.CUSTODIAN] and entry.origin_ip == "127.0.0.1"

    # Verify is a button on the change form that leads to a confirmation page; only that page's POST verifies.
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/change/", {"_fsm_transition_to": "verify"})
    confirm = f"/admin/issuance/deposit/{deposit.pk}/transition/verify/"
    assert response["Location"] == confirm
    page = client.get(confirm).content.decode()
    assert "Verify the weights of deposit ADM-1: its 2 bars, 801.009 fine troy oz are recorded" in page
    deposit.refresh_from_db()
    assert deposit.state == DepositState.RECEIVED
    response = client.post(confirm, {"confirmed": "True"}, follow=True)
    assert "Deposit ADM-1: done (verify weights)." in response.content.decode()
    deposit.refresh_from_db()
    assert deposit.state == DepositState.VERIFIED


def test_a_refused_transition_shows_why_and_changes_nothing(client, people, deposit):
    client.force_login(people[Role.CUSTODIAN])
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/transition/reject/", {"reason": ""})
    assert response.status_code == 200 and b"This field is required" in response.content
    deposit.refresh_from_db()
    assert deposit.state == DepositState.DRAFT


def test_an_operator_creates_a_deposit_through_the_service(client, people):
    vault = VaultFactory(name="Singapore")
    client.force_login(people[Role.OPERATOR])
    response = client.post("/admin/issuance/deposit/add/",
                           {"reference": "ADM-2", "depositor": "Mint", "vault": vault.pk})
    assert response.status_code == 302
    created = Deposit.objects.get(reference="ADM-2")
    assert created.created_by == people[Role.OPERATOR]
    assert JournalEntry.objects.filter(action="issuance.deposit.created", object_id=str(created.pk)).exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_10000_bar_list_is_imported_by_the_worker_with_progress(client, chain, celery_worker, roles):
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.get(username="operator")
    deposit = deposit_make(operator=operator, vault=VaultFactory(name="Big Vault"), reference="BIG-1",
                           csv=bar_csv([("SEED", "400", "999.9", "")], refiner="Seed"))
    rows = [(f"S{i:05d}", f"{400 + i % 10}.{i % 1000:03d}", "999.9", "") for i in range(10_000)]
    client.force_login(operator)
    response = client.post(f"/admin/issuance/deposit/{deposit.pk}/upload/",
                           {"file": SimpleUploadedFile("bars.csv", bar_csv(rows).encode()), "replace": "on"})
    assert response.status_code == 302
    job = BarListImport.objects.get()
    deadline = time.monotonic() + 60
    while job.state not in (ImportState.SUCCEEDED, ImportState.FAILED) and time.monotonic() < deadline:
        page = client.get(f"/admin/issuance/barlistimport/{job.pk}/change/").content.decode()
        assert 'id="import-progress"' in page
        time.sleep(0.05)
        job.refresh_from_db()
    assert job.state == ImportState.SUCCEEDED, job.errors
    assert (job.bars_saved, job.rows_total, job.rows_done) == (10_000, 10_000, 10_000)
    assert Bar.objects.filter(deposit=deposit).count() == 10_000  # the seed bar was replaced, as confirmed


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_bar_list_with_one_bad_row_saves_nothing_and_lists_the_error(client, chain, celery_worker, roles):
    from django.contrib.auth import get_user_model

    operator = get_user_model().objects.get(username="operator")
    deposit = deposit_make(operator=operator, vault=VaultFactory(name="V2"), reference="BAD-1",
                           csv=bar_csv([("SEED2", "400", "999.9", "")], refiner="Seed"))
    rows = [(f"T{i:04d}", "400", "999.9", "") for i in range(500)] + [("T9999", "400", "1001", "")]
    client.force_login(operator)
    client.post(f"/admin/issuance/deposit/{deposit.pk}/upload/",
                {"file": SimpleUploadedFile("bars.csv", bar_csv(rows).encode()), "replace": "on"})
    job = BarListImport.objects.get()
    deadline = time.monotonic() + 30
    while job.state not in (ImportState.SUCCEEDED, ImportState.FAILED) and time.monotonic() < deadline:
        time.sleep(0.05)
        job.refresh_from_db()
    assert job.state == ImportState.FAILED
    assert job.errors == ["row 502: fineness 1001 is outside (0, 1000]"]
    assert Bar.objects.filter(deposit=deposit).count() == 1
    page = client.get(f"/admin/issuance/barlistimport/{job.pk}/change/").content.decode()
    assert "row 502: fineness 1001 is outside (0, 1000]" in page


def test_a_vault_created_in_the_admin_is_journalled(client):
    from django.contrib.auth import get_user_model

    from issuance.models import Vault

    admin_user = get_user_model().objects.create_superuser("root-user", password="x" * 12)
    client.force_login(admin_user)
    response = client.post("/admin/issuance/vault/add/", {"name": "Dubai DMCC", "location": "Dubai"})
    assert response.status_code == 302
    vault = Vault.objects.get(name="Dubai DMCC")
    entry = JournalEntry.objects.get(action="issuance.vault.created", object_id=str(vault.pk))
    assert entry.actor == admin_user and entry.data == {"name": "Dubai DMCC", "location": "Dubai"}


def test_the_deposit_and_audit_lists_cost_a_fixed_number_of_queries(client, people):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    vault = VaultFactory(name="Query vault")
    client.force_login(people[Role.MANAGER])

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    for n in (1,):
        deposit_make(operator=people[Role.OPERATOR], vault=vault, reference=f"Q-{n}",
                     csv=bar_csv([(f"Q{n}", "400", "999.9", "")]))
    few = count("/admin/issuance/deposit/")
    for n in range(2, 7):
        deposit_make(operator=people[Role.OPERATOR], vault=vault, reference=f"Q-{n}",
                     csv=bar_csv([(f"Q{n}", "400", "999.9", "")]))
    assert count("/admin/issuance/deposit/") == few


def test_a_gold_price_typed_as_the_pages_show_it_is_recorded_and_a_decimal_comma_is_refused(client, people):
    from django.utils import timezone

    from issuance.models import GoldPrice

    client.force_login(people[Role.OPERATOR])
    as_of = (timezone.localtime() - timezone.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    form = {"source": "LBMA PM", "as_of_0": as_of[:10], "as_of_1": as_of[11:], "as_of": as_of}
    journal = JournalEntry.objects.count()
    for typed, message in (("2345,67", "use a point for decimals (2345.67), not a comma"),
                           ("2,34.5", "misplaced thousands separators"),
                           ("2,345.12345", "more than 4 decimals")):
        response = client.post("/admin/issuance/goldprice/add/", {**form, "usd_per_oz": typed})
        assert response.status_code == 200 and message in response.content.decode(), typed
    assert not GoldPrice.objects.exists() and JournalEntry.objects.count() == journal

    response = client.post("/admin/issuance/goldprice/add/", {**form, "usd_per_oz": "2,345.6700"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert str(GoldPrice.objects.get().usd_per_oz) == "2345.6700"
    # Proposed only: it counts once a manager approves it (issuance/tests/test_gold_price_governed.py).
    assert GoldPrice.objects.get().state == "proposed"
    assert JournalEntry.objects.filter(action="issuance.price.proposed").count() == 1
