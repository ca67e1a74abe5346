"""The REST API of the gold side: each action works for its role only, refusals change nothing, amounts
travel as strings, both ways of logging in work, and the OpenAPI schema describes every endpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path
from django.utils import timezone
from rest_framework.test import APIClient

from backoffice.accounts.roles import Role
from backoffice.accounts.tokens import api_token_create
from backoffice.journal.models import JournalEntry
from issuance import services
from issuance.models import Audit, AuditCount, Bar, Deposit, Discrepancy, GoldPrice, Vault

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"
RECEIPT = b"%PDF-1.4 custodian receipt, signed"
REPORT = b"%PDF-1.4 audit report, signed"


# --- world ----------------------------------------------------------------------------------

def bar_csv(serials: list[str], *, gross: str = "400.000", fineness: str = "999.9") -> str:
    lines = ["Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness"]
    lines += [f"{serial},Valcambi,2024,{gross},{fineness}" for serial in serials]
    return "\n".join(lines) + "\n"


def pdf(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@dataclass
class World:
    users: dict[str, User]
    vault: Vault

    def __getitem__(self, name: str) -> User:
        return self.users[name]

    # Built through the services, so every object went through its real state machine and journal.
    def deposit(self, reference: str = "DEP-1", *, bars: bool = True) -> Deposit:
        deposit = services.deposit_create(reference=reference, depositor="Refinery SA", vault=self.vault,
                                          actor=self["operator"])
        if bars:
            services.deposit_bars_import(deposit_id=deposit.pk, content=bar_csv([f"{reference}-A", f"{reference}-B"]),
                                         actor=self["operator"])
        return deposit

    def received(self, reference: str = "DEP-1") -> Deposit:
        deposit = self.deposit(reference)
        return services.deposit_receive(deposit_id=deposit.pk, receipt=pdf("r.pdf", RECEIPT), actor=self["custodian"])

    def verified(self, reference: str = "DEP-1") -> Deposit:
        deposit = self.received(reference)
        return services.deposit_verify(deposit_id=deposit.pk, actor=self["custodian"])

    def audit(self) -> Audit:
        return services.audit_plan(vault=self.vault, as_of=timezone.localdate(), auditor=self["auditor"],
                                   firm="Assay LLP", actor=self["operator"])

    def fieldwork(self) -> Audit:
        return services.audit_start_fieldwork(audit_id=self.audit().pk, actor=self["auditor"])

    def submitted(self, counted: list[str]) -> Audit:
        audit = self.fieldwork()
        services.audit_counts_import(audit_id=audit.pk, content=bar_csv(counted), actor=self["auditor"])
        return services.audit_submit(audit_id=audit.pk, report=pdf("a.pdf", REPORT), actor=self["auditor"])

    def audited(self, reference: str = "DEP-1") -> Deposit:
        deposit = self.verified(reference)
        audit = self.submitted([f"{reference}-A", f"{reference}-B"])
        services.audit_accept(audit_id=audit.pk, actor=self["auditor"])
        return Deposit.objects.get(pk=deposit.pk)


def user_make(username: str, role: str | None = None) -> User:
    user = User.objects.create_user(username, password=PASSWORD)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def world(roles: None) -> World:
    users = {role: user_make(f"api-{role}", role) for role in Role.ALL}  # the chain fixture owns bare names
    users["other_auditor"] = user_make("api-other-auditor", Role.AUDITOR)  # an auditor, but not this audit's
    users["nobody"] = user_make("api-nobody")  # logged in, no role
    return World(users=users, vault=Vault.objects.create(name="Zurich 1", location="Zurich"))


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def everything(media: Path) -> tuple[Any, ...]:
    """What any write could change: states, rows, the journal, stored files."""
    return (
        list(Deposit.objects.order_by("pk").values_list("pk", "state", "receipt_sha256", "rejection_reason")),
        list(Audit.objects.order_by("pk").values_list("pk", "state", "report_sha256", "dispute_reason")),
        Bar.objects.count(), AuditCount.objects.count(), Discrepancy.objects.count(), GoldPrice.objects.count(),
        JournalEntry.objects.count(),
        sorted(str(p) for p in media.rglob("*")),
    )


# --- every action: its role succeeds, every other caller gets 403 and nothing changes --------

@dataclass(frozen=True)
class Case:
    role: str
    setup: Callable[[World], Any]  # the object the action needs, in the state it needs
    call: Callable[[APIClient, World, Any], Any]
    expect: Callable[[World, Any, dict[str, Any]], None]
    status: int = 200


def _post(url: str, data: dict[str, Any] | None = None, fmt: str = "json") -> Callable[[APIClient], Any]:
    return lambda client: client.post(url, data, format=fmt)


def _expect_deposit_created(w: World, _: Any, body: dict[str, Any]) -> None:
    deposit = Deposit.objects.get(reference="DEP-9")
    assert (body["id"], body["state"], body["bars_count"], body["fine_oz_total"]) == (deposit.pk, "draft", 0, "0.000")
    assert deposit.created_by == w["operator"] and deposit.vault == w.vault


def _expect_bars(w: World, d: Deposit, body: dict[str, Any]) -> None:
    # 400 oz at 999.9 is 399.960 fine oz a bar: strings, exact, never floats.
    assert (body["bars_count"], body["fine_oz_total"]) == (2, "799.920")
    assert Bar.objects.filter(deposit=d).count() == 2


def _expect_state(model: type[Deposit] | type[Audit], state: str) -> Callable[[World, Any, dict[str, Any]], None]:
    def check(w: World, obj: Any, body: dict[str, Any]) -> None:
        assert body["state"] == state == model.objects.get(pk=obj.pk).state

    return check


def _expect_received(w: World, d: Deposit, body: dict[str, Any]) -> None:
    _expect_state(Deposit, "received")(w, d, body)
    assert body["receipt_sha256"] == hashlib.sha256(RECEIPT).hexdigest()


def _expect_rejected(w: World, d: Deposit, body: dict[str, Any]) -> None:
    _expect_state(Deposit, "rejected")(w, d, body)
    assert body["rejection_reason"] == "assay certificate is forged"


def _expect_planned(w: World, _: Any, body: dict[str, Any]) -> None:
    audit = Audit.objects.get()
    assert (body["id"], body["state"], body["auditor"], body["counts_count"]) == (audit.pk, "planned",
                                                                                   w["auditor"].pk, 0)


def _expect_counts(w: World, a: Audit, body: dict[str, Any]) -> None:
    assert (body["state"], body["counts_count"]) == ("fieldwork", 2)


def _expect_submitted(w: World, a: Audit, body: dict[str, Any]) -> None:
    _expect_state(Audit, "submitted")(w, a, body)
    assert body["report_sha256"] == hashlib.sha256(REPORT).hexdigest() and body["discrepancies"] == []


def _expect_accepted(w: World, a: Audit, body: dict[str, Any]) -> None:
    _expect_state(Audit, "accepted")(w, a, body)
    assert Deposit.objects.get().state == "audited"  # the accepted audit covers every bar of the deposit


def _expect_disputed(w: World, a: Audit, body: dict[str, Any]) -> None:
    _expect_state(Audit, "disputed")(w, a, body)
    assert [(d["kind"], d["serial"]) for d in body["discrepancies"]] == [("missing", "DEP-1-B")]
    assert Bar.objects.get(serial="DEP-1-B").blocked_by_id == a.pk


def _expect_price(w: World, _: Any, body: dict[str, Any]) -> None:
    assert (body["usd_per_oz"], body["source"], body["entered_by"]) == ("2345.6700", "LBMA PM", "api-operator")
    assert str(GoldPrice.objects.get().usd_per_oz) == "2345.6700"


def _submitted_with_counts(w: World) -> Audit:
    w.verified()
    return w.submitted(["DEP-1-A", "DEP-1-B"])


def _fieldwork_with_counts(w: World) -> Audit:
    w.verified()
    audit = w.fieldwork()
    services.audit_counts_import(audit_id=audit.pk, content=bar_csv(["DEP-1-A", "DEP-1-B"]), actor=w["auditor"])
    return audit


CASES = {
    "deposit-create": Case(
        Role.OPERATOR, lambda w: None,
        lambda c, w, _: c.post("/api/deposits/", {"reference": "DEP-9", "depositor": "Refinery SA",
                                                  "vault": w.vault.pk}, format="json"),
        _expect_deposit_created, status=201),
    "deposit-bars": Case(
        Role.OPERATOR, lambda w: w.deposit(bars=False),
        lambda c, w, d: c.post(f"/api/deposits/{d.pk}/bars/",
                               {"file": SimpleUploadedFile("bars.csv", bar_csv(["S1", "S2"]).encode())},
                               format="multipart"),
        _expect_bars),
    "deposit-receive": Case(
        Role.CUSTODIAN, lambda w: w.deposit(),
        lambda c, w, d: c.post(f"/api/deposits/{d.pk}/receive/", {"receipt": pdf("receipt.pdf", RECEIPT)},
                               format="multipart"),
        _expect_received),
    "deposit-verify": Case(
        Role.CUSTODIAN, lambda w: w.received(),
        lambda c, w, d: c.post(f"/api/deposits/{d.pk}/verify/"),
        _expect_state(Deposit, "verified")),
    "deposit-reject": Case(
        Role.CUSTODIAN, lambda w: w.received(),
        lambda c, w, d: c.post(f"/api/deposits/{d.pk}/reject/", {"reason": "assay certificate is forged"},
                               format="json"),
        _expect_rejected),
    "deposit-release": Case(
        Role.CUSTODIAN, lambda w: w.audited(),
        lambda c, w, d: c.post(f"/api/deposits/{d.pk}/release/", {"reason": "redeemed by holder"}, format="json"),
        _expect_state(Deposit, "released")),
    "audit-plan": Case(
        Role.OPERATOR, lambda w: None,
        lambda c, w, _: c.post("/api/audits/", {"vault": w.vault.pk, "as_of": timezone.localdate().isoformat(),
                                                "auditor": w["auditor"].pk, "firm": "Assay LLP"}, format="json"),
        _expect_planned, status=201),
    "audit-start-fieldwork": Case(
        Role.AUDITOR, lambda w: w.audit(),
        lambda c, w, a: c.post(f"/api/audits/{a.pk}/start-fieldwork/"),
        _expect_state(Audit, "fieldwork")),
    "audit-counts": Case(
        Role.AUDITOR, lambda w: w.fieldwork(),
        lambda c, w, a: c.post(f"/api/audits/{a.pk}/counts/", bar_csv(["C1", "C2"]), content_type="text/csv"),
        _expect_counts),
    "audit-submit": Case(
        Role.AUDITOR, _fieldwork_with_counts,
        lambda c, w, a: c.post(f"/api/audits/{a.pk}/submit/", {"report": pdf("report.pdf", REPORT)},
                               format="multipart"),
        _expect_submitted),
    "audit-accept": Case(
        Role.AUDITOR, _submitted_with_counts,
        lambda c, w, a: c.post(f"/api/audits/{a.pk}/accept/"),
        _expect_accepted),
    "audit-dispute": Case(
        Role.AUDITOR, lambda w: (w.verified(), w.submitted(["DEP-1-A"]))[1],
        lambda c, w, a: c.post(f"/api/audits/{a.pk}/dispute/", {"reason": "bar DEP-1-B not in the vault"},
                               format="json"),
        _expect_disputed),
    "price-record": Case(
        Role.OPERATOR, lambda w: None,
        lambda c, w, _: c.post("/api/prices/", {"usd_per_oz": "2345.67", "source": "LBMA PM",
                                                "as_of": (timezone.now() - timedelta(hours=1)).isoformat()},
                               format="json"),
        _expect_price, status=201),
}


@pytest.mark.parametrize("name", CASES)
def test_each_action_succeeds_for_its_role_only_and_a_refusal_changes_nothing(
    name: str, world: World, client: APIClient, media: Path
) -> None:
    case = CASES[name]
    obj = case.setup(world)
    callers: dict[str, User | None] = {**world.users, "anonymous": None}
    for username, user in callers.items():
        if username == case.role:
            continue
        before = everything(media)
        client.force_authenticate(user)
        response = case.call(client, world, obj)
        assert response.status_code in ((401, 403) if user is None else (403,)), (username, response.content)
        assert "detail" in response.json()
        assert everything(media) == before, username

    journal = JournalEntry.objects.count()
    client.force_authenticate(world[case.role])
    response = case.call(client, world, obj)
    assert response.status_code == case.status, response.content
    case.expect(world, obj, response.json())
    assert JournalEntry.objects.count() > journal


def test_the_manager_reads_everything(world: World, client: APIClient) -> None:
    deposit = world.verified()
    audit = world.submitted(["DEP-1-A", "DEP-1-B", "STRAY-1"])
    services.gold_price_record(usd_per_oz="2345.1", source="LBMA PM", as_of=timezone.now(), actor=world["operator"])
    client.force_authenticate(world["manager"])

    body = client.get("/api/deposits/").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert (row["reference"], row["state"], row["bars_count"], row["fine_oz_total"]) == ("DEP-1", "verified", 2,
                                                                                         "799.920")
    assert row["receipt_sha256"] == hashlib.sha256(RECEIPT).hexdigest()
    assert client.get(f"/api/deposits/{deposit.pk}/").json()["id"] == deposit.pk
    bars = client.get(f"/api/deposits/{deposit.pk}/bars/?page_size=1").json()
    assert bars["count"] == 2 and len(bars["results"]) == 1 and bars["next"]
    assert bars["results"][0]["fine_oz"] == "399.960" and bars["results"][0]["gross_oz"] == "400.000"

    body = client.get(f"/api/audits/{audit.pk}/").json()
    assert (body["state"], body["counts_count"]) == ("submitted", 3)
    assert [(d["kind"], d["serial"]) for d in body["discrepancies"]] == [("unexpected", "STRAY-1")]
    assert client.get("/api/audits/?state=submitted").json()["count"] == 1
    assert client.get("/api/audits/?state=accepted").json()["count"] == 0

    assert client.get("/api/prices/").json()["results"][0]["usd_per_oz"] == "2345.1000"


def test_reading_needs_the_view_permissions(world: World, client: APIClient) -> None:
    deposit = world.deposit()
    readers = {Role.OWNER, Role.OPERATOR, Role.CUSTODIAN, Role.AUDITOR, Role.MANAGER}
    for name, user in world.users.items():
        client.force_authenticate(user)
        for url in ("/api/deposits/", f"/api/deposits/{deposit.pk}/", f"/api/deposits/{deposit.pk}/bars/",
                    "/api/audits/", "/api/prices/"):
            expected = 200 if name in readers or name == "other_auditor" else 403
            assert client.get(url).status_code == expected, (name, url)


def test_a_list_page_costs_the_same_queries_however_many_rows(world: World, client: APIClient) -> None:
    client.force_authenticate(world["manager"])
    world.received("DEP-1")
    world.submitted(["DEP-1-A", "X-1"])
    client.get("/api/deposits/")  # warm the permission cache
    with CaptureQueriesContext(connection) as one:
        client.get("/api/deposits/")
        client.get("/api/audits/")
    for n in range(2, 5):
        world.received(f"DEP-{n}")
        world.submitted([f"DEP-{n}-A", f"Y-{n}"])
    with CaptureQueriesContext(connection) as many:
        assert client.get("/api/deposits/").json()["count"] == 4
        assert client.get("/api/audits/").json()["count"] == 4
    assert len(many) == len(one)


def test_another_auditor_may_read_the_audit_but_not_conduct_it(world: World, client: APIClient, media: Path) -> None:
    audit = world.audit()
    client.force_authenticate(world["other_auditor"])
    assert client.get(f"/api/audits/{audit.pk}/").status_code == 200
    before = everything(media)
    response = client.post(f"/api/audits/{audit.pk}/start-fieldwork/")
    assert response.status_code == 403
    assert response.json()["detail"] == "only the auditor named on this audit may conduct it"
    assert everything(media) == before


# --- bad input: 400 (or 409 for a state conflict) with a clear message, nothing saved --------

def _price(client: APIClient, **overrides: Any) -> Any:
    body = {"usd_per_oz": "2345.67", "source": "LBMA PM", "as_of": (timezone.now() - timedelta(hours=1)).isoformat()}
    return client.post("/api/prices/", {**body, **overrides}, format="json")


BAD_PRICES: list[tuple[dict[str, Any], str]] = [
    ({"usd_per_oz": "abc"}, "usd_per_oz: 'abc' is not a number; write digits with a point for decimals"),
    ({"usd_per_oz": "2345,67"}, "use a point for decimals (2345.67), not a comma"),
    ({"usd_per_oz": "2,34.50"}, "misplaced thousands separators"),
    ({"usd_per_oz": "1e3"}, "has an exponent; write the number out in full"),
    ({"usd_per_oz": "NaN"}, "'NaN' is not a number"),
    ({"usd_per_oz": ""}, "usd_per_oz: no number given"),
    ({"usd_per_oz": "2,345.12345"}, "more than 4 decimals"),
    ({"usd_per_oz": 2345.67}, "as a string"),
    ({"usd_per_oz": 2345}, "as a string"),
    ({"usd_per_oz": None}, "may not be null"),
    ({"usd_per_oz": "-5"}, "above zero"),
    ({"usd_per_oz": "0"}, "above zero"),
    ({"usd_per_oz": "0.0000"}, "above zero"),
    ({"usd_per_oz": "2345.12345"}, "more than 4 decimals"),
    ({"source": "  "}, "source"),
    ({"as_of": "2025-01-31T16:00:00"}, "time zone"),
    ({"as_of": "yesterday"}, "as_of"),
]


def test_a_bad_price_is_refused_with_a_clear_message_and_nothing_saved(
    world: World, client: APIClient, media: Path
) -> None:
    # One test for every bad value: the refusals share their (costly) setup and each names its case.
    future = ({"as_of": (timezone.now() + timedelta(hours=1)).isoformat()}, "in the future")
    client.force_authenticate(world["operator"])
    before = everything(media)
    for overrides, message in [*BAD_PRICES, future]:
        response = _price(client, **overrides)
        assert response.status_code == 400, (overrides, response.content)
        assert message in response.json()["detail"], (overrides, response.json())
    assert everything(media) == before and not GoldPrice.objects.exists()


def test_a_price_typed_as_the_pages_show_it_is_recorded_exactly(world: World, client: APIClient) -> None:
    client.force_authenticate(world["operator"])
    response = _price(client, usd_per_oz="2,345.6700")
    assert response.status_code == 201, response.content
    assert response.json()["usd_per_oz"] == "2345.6700" and str(GoldPrice.objects.get().usd_per_oz) == "2345.6700"


def test_a_bar_list_with_bad_rows_is_refused_whole_with_every_row_error(
    world: World, client: APIClient, media: Path
) -> None:
    deposit = world.deposit(bars=False)
    content = bar_csv(["OK-1"]) + "BAD-1,Valcambi,2024,abc,999.9\nBAD-2,Valcambi,2024,400,1200\n"
    client.force_authenticate(world["operator"])
    before = everything(media)
    response = client.post(f"/api/deposits/{deposit.pk}/bars/", content, content_type="text/csv")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "the bar list has 2 error(s); nothing was saved"
    assert body["errors"][0].startswith("row 3: gross weight 'abc'")
    assert body["errors"][1].startswith("row 4: fineness 1200")
    assert everything(media) == before and not Bar.objects.exists()


def test_a_csv_body_past_the_in_memory_size_is_spooled_to_disk_and_imported_whole(
    world: World, client: APIClient, media: Path, settings: Any
) -> None:
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 4096  # the body below goes to a temporary file, as a long list would
    deposit = world.deposit(bars=False)
    content = bar_csv([f"SPOOL-{n:05d}" for n in range(500)])
    assert len(content) > 4 * settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    client.force_authenticate(world["operator"])
    response = client.post(f"/api/deposits/{deposit.pk}/bars/", content, content_type="text/csv")
    assert response.status_code == 200, response.content
    assert Bar.objects.filter(deposit=deposit).count() == 500
    assert Bar.objects.filter(deposit=deposit, serial="SPOOL-00499").exists()


def test_a_csv_body_over_the_limit_is_refused_and_changes_nothing(
    world: World, client: APIClient, media: Path, settings: Any
) -> None:
    settings.UPLOAD_MAX_BYTES = {**settings.UPLOAD_MAX_BYTES, "bar_list": 10_000}
    deposit = world.deposit(bars=False)
    client.force_authenticate(world["operator"])
    before, entries = everything(media), JournalEntry.objects.count()
    response = client.post(f"/api/deposits/{deposit.pk}/bars/", bar_csv([f"BIG-{n:05d}" for n in range(500)]),
                           content_type="text/csv")
    assert response.status_code == 400
    assert "at most 9.8 KiB is accepted" in response.json()["detail"], response.json()
    assert not Bar.objects.filter(deposit=deposit).exists()
    assert everything(media) == before and JournalEntry.objects.count() == entries


def test_a_bar_already_recorded_elsewhere_is_refused_by_row(world: World, client: APIClient) -> None:
    world.deposit("DEP-1")
    second = world.deposit("DEP-2", bars=False)
    client.force_authenticate(world["operator"])
    file = SimpleUploadedFile("bars.csv", bar_csv(["NEW-1", "DEP-1-A"]).encode())
    response = client.post(f"/api/deposits/{second.pk}/bars/", {"file": file}, format="multipart")
    assert response.status_code == 400
    assert response.json()["errors"] == ["row 3: bar Valcambi DEP-1-A is already recorded (a bar backs one "
                                         "deposit only)"]
    assert not Bar.objects.filter(deposit=second).exists()


def test_a_bar_list_needs_a_file_and_a_draft_deposit(world: World, client: APIClient, media: Path) -> None:
    deposit = world.received()
    client.force_authenticate(world["operator"])
    before = everything(media)
    response = client.post(f"/api/deposits/{deposit.pk}/bars/", {}, format="multipart")
    assert response.status_code == 400 and response.json()["detail"] == "file: No file was submitted."
    response = client.post(f"/api/deposits/{deposit.pk}/bars/", bar_csv(["N-1"]), content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["detail"] == "bars can be added only to a draft deposit; this one is received"
    assert everything(media) == before


def test_audit_counts_with_a_bad_row_are_refused_whole(world: World, client: APIClient, media: Path) -> None:
    audit = world.fieldwork()
    client.force_authenticate(world["auditor"])
    before = everything(media)
    response = client.post(f"/api/audits/{audit.pk}/counts/", bar_csv(["C-1"]) + "C-2,Valcambi,1800,400,999.9\n",
                           content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["errors"] == [f"row 3: year 1800 is not between 1900 and {timezone.now().year + 1}"]
    assert everything(media) == before and not AuditCount.objects.exists()


def test_reject_and_release_need_a_reason(world: World, client: APIClient, media: Path) -> None:
    deposit = world.audited()  # the one state from which both are allowed
    client.force_authenticate(world["custodian"])
    before = everything(media)
    for action in ("reject", "release"):
        for body, message in [({}, "reason: This field is required."),
                              ({"reason": "   "}, "reason: This field may not be blank.")]:
            response = client.post(f"/api/deposits/{deposit.pk}/{action}/", body, format="json")
            assert response.status_code == 400, (action, body)
            assert response.json()["detail"] == message, (action, body)
    assert everything(media) == before


def test_a_step_the_state_does_not_allow_is_a_conflict(world: World, client: APIClient, media: Path) -> None:
    deposit = world.deposit()
    client.force_authenticate(world["custodian"])
    before = everything(media)
    response = client.post(f"/api/deposits/{deposit.pk}/verify/")
    assert response.status_code == 409
    assert response.json()["detail"] == "verify is not allowed from state 'draft'"
    response = client.post(f"/api/deposits/{deposit.pk}/release/", {"reason": "gone"}, format="json")
    assert response.status_code == 409
    assert everything(media) == before


def test_accepting_an_audit_with_discrepancies_is_a_conflict(world: World, client: APIClient, media: Path) -> None:
    world.verified()
    audit = world.submitted(["DEP-1-A"])
    client.force_authenticate(world["auditor"])
    before = everything(media)
    response = client.post(f"/api/audits/{audit.pk}/accept/")
    assert response.status_code == 409
    assert everything(media) == before and Audit.objects.get().state == "submitted"


def test_receive_needs_the_receipt(world: World, client: APIClient, media: Path) -> None:
    deposit = world.deposit()
    client.force_authenticate(world["custodian"])
    before = everything(media)
    response = client.post(f"/api/deposits/{deposit.pk}/receive/", {}, format="multipart")
    assert response.status_code == 400 and response.json()["detail"] == "receipt: No file was submitted."
    assert everything(media) == before


def test_submit_needs_the_report(world: World, client: APIClient, media: Path) -> None:
    audit = world.fieldwork()
    client.force_authenticate(world["auditor"])
    before = everything(media)
    response = client.post(f"/api/audits/{audit.pk}/submit/", {}, format="multipart")
    assert response.status_code == 400 and response.json()["detail"] == "report: No file was submitted."
    assert everything(media) == before


def test_a_duplicate_deposit_reference_or_unknown_vault_is_refused(world: World, client: APIClient) -> None:
    world.deposit("DEP-1", bars=False)
    client.force_authenticate(world["operator"])
    journal = JournalEntry.objects.count()
    response = client.post("/api/deposits/", {"reference": "DEP-1", "depositor": "X", "vault": world.vault.pk},
                           format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == "a deposit with reference DEP-1 already exists"
    response = client.post("/api/deposits/", {"reference": "DEP-2", "depositor": "X", "vault": 999}, format="json")
    assert response.status_code == 400 and response.json()["vault"] == ['Invalid pk "999" - object does not exist.']
    assert Deposit.objects.count() == 1 and JournalEntry.objects.count() == journal


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"auditor": "custodian"}, "api-custodian is not an auditor"),
     ({"as_of": "TOMORROW"}, "an audit cannot be as of a future date"),
     ({"firm": ""}, "firm: This field may not be blank.")],
)
def test_a_bad_audit_plan_is_refused(
    overrides: dict[str, Any], message: str, world: World, client: APIClient
) -> None:
    body = {"vault": world.vault.pk, "as_of": timezone.localdate().isoformat(), "auditor": world["auditor"].pk,
            "firm": "Assay LLP"}
    if "auditor" in overrides:
        overrides = {"auditor": world[overrides["auditor"]].pk}
    if overrides.get("as_of") == "TOMORROW":
        overrides = {"as_of": (timezone.localdate() + timedelta(days=1)).isoformat()}
    client.force_authenticate(world["operator"])
    journal = JournalEntry.objects.count()
    response = client.post("/api/audits/", {**body, **overrides}, format="json")
    assert response.status_code == 400
    assert response.json()["detail"] == message
    assert not Audit.objects.exists() and JournalEntry.objects.count() == journal


def test_an_unknown_object_is_not_found_for_a_reader(world: World, client: APIClient) -> None:
    client.force_authenticate(world["custodian"])
    assert client.get("/api/deposits/999/").status_code == 404
    assert client.post("/api/deposits/999/verify/").status_code == 404


# --- authentication -------------------------------------------------------------------------

def test_a_personal_api_token_authenticates_without_a_session(world: World) -> None:
    _, key = api_token_create(user=world["operator"], name="price feed")

    # CSRF checks on, as for a real client: a token-authenticated write needs no CSRF token.
    client = APIClient(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/deposits/").status_code == 200
    response = _price(client)
    assert response.status_code == 201 and GoldPrice.objects.get().entered_by == world["operator"]

    journal = JournalEntry.objects.count()
    wrong = APIClient(HTTP_AUTHORIZATION="Token 0000000000000000000000000000000000000000")
    assert wrong.get("/api/deposits/").status_code == 401
    assert _price(wrong).status_code == 401
    assert GoldPrice.objects.count() == 1 and JournalEntry.objects.count() == journal


def test_a_session_login_works_and_its_writes_need_the_csrf_token(world: World, media: Path) -> None:
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="api-operator", password=PASSWORD)
    assert client.get("/api/prices/").status_code == 200
    before = everything(media)
    response = _price(client)
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert everything(media) == before


def test_anonymous_is_refused_and_nothing_changes(world: World, client: APIClient, media: Path) -> None:
    deposit = world.deposit()
    before = everything(media)
    for url in ("/api/deposits/", f"/api/deposits/{deposit.pk}/", "/api/audits/", "/api/prices/"):
        assert client.get(url).status_code in (401, 403)
    assert client.post(f"/api/deposits/{deposit.pk}/reject/", {"reason": "x"}, format="json").status_code in (401, 403)
    assert _price(client).status_code in (401, 403)
    assert everything(media) == before


# --- schema ---------------------------------------------------------------------------------

OUR_PATHS = [
    "/api/deposits/", "/api/deposits/{id}/", "/api/deposits/{id}/bars/", "/api/deposits/{id}/receive/",
    "/api/deposits/{id}/verify/", "/api/deposits/{id}/reject/", "/api/deposits/{id}/release/",
    "/api/audits/", "/api/audits/{id}/", "/api/audits/{id}/start-fieldwork/", "/api/audits/{id}/counts/",
    "/api/audits/{id}/submit/", "/api/audits/{id}/accept/", "/api/audits/{id}/dispute/",
    "/api/prices/", "/api/prices/{id}/",
    "/api/proposals/", "/api/proposals/{id}/", "/api/proposals/{id}/cancel/", "/api/proposals/{id}/propose/",
    "/api/proposals/queue/",
]
# Typed data and signatures of every multisig transaction: the one transactions API.
ONE_API_PATHS = ["/api/multisig/transactions/{id}/typed-data/", "/api/multisig/transactions/{id}/signatures/"]
# Gone: each proposal API used to repeat them.
REMOVED_PATHS = ["/api/proposals/{id}/signatures/", "/api/proposals/{id}/typed-data/",
                 "/api/compliance/proposals/{id}/signatures/", "/api/compliance/proposals/{id}/typed-data/"]


def test_the_schema_endpoint_describes_every_endpoint(client: APIClient) -> None:
    assert client.get("/api/schema/?format=json").status_code in (401, 403)  # staff only
    client.force_authenticate(User.objects.create_user("schema-reader", is_staff=True))
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert set(OUR_PATHS + ONE_API_PATHS) <= set(schema["paths"])
    assert not set(REMOVED_PATHS) & set(schema["paths"])
    bars_post = schema["paths"]["/api/deposits/{id}/bars/"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "text/csv"} <= set(bars_post)
    price = schema["components"]["schemas"]["GoldPriceRecord"]["properties"]["usd_per_oz"]
    assert (price["type"], price["format"]) == ("string", "decimal")


def test_the_schema_of_these_endpoints_has_no_warning_and_is_valid_openapi() -> None:
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    schema = SchemaGenerator(patterns=[path("api/", include("issuance.api.urls"))]).get_schema(request=None,
                                                                                                 public=True)
    assert not GENERATOR_STATS, (dict(GENERATOR_STATS._warn_cache), dict(GENERATOR_STATS._error_cache))
    validate_schema(schema)
    assert sorted(schema["paths"]) == sorted(OUR_PATHS)
