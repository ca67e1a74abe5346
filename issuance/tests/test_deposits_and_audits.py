"""Every transition for its role (allowed) and for every other role (refused, nothing changed)."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backoffice.accounts.roles import Role
from backoffice.journal.models import JournalEntry
from backoffice.journal.selectors import journal_verify
from backoffice.journal.services import TransitionRefused
from issuance import services
from issuance.barlist import BarListInvalid, bar_rows_parse
from issuance.models import Audit, AuditState, Bar, Deposit, DepositState, Discrepancy

from .factories import (
    VaultFactory,
    audit_submitted,
    bar_csv,
    deposit_make,
    deposit_verified,
    upload,
    user_with_role,
)

pytestmark = pytest.mark.django_db

BARS = [("A100", "400.000", "999.9", ""), ("A101", "401.250", "999.5", ""), ("A102", "399.800", "995.0", "397.800")]


@pytest.fixture
def people(roles):
    return {role: user_with_role(role, username=f"{role}-user") for role in Role.ALL}


@pytest.fixture
def vault():
    return VaultFactory(name="Zurich Free Port")


def _snapshot(obj):
    obj.refresh_from_db()
    fields = [f.attname for f in obj._meta.concrete_fields]
    return {f: getattr(obj, f) for f in fields}, JournalEntry.objects.count()


def _refused_for_everyone_but(allowed, people, call, obj):
    """Each other role is refused and nothing (row or journal) changes."""
    for role, user in people.items():
        if role in allowed:
            continue
        before = _snapshot(obj)
        with pytest.raises(TransitionRefused):
            call(user)
        assert _snapshot(obj) == before, role


def test_fine_weight_is_computed_unless_the_vault_gives_it(people, vault):
    deposit = deposit_make(operator=people[Role.OPERATOR], vault=vault, reference="D-1", csv=bar_csv(BARS))
    fine = dict(deposit.bars.values_list("serial", "fine_oz"))
    assert fine == {"A100": Decimal("399.960"), "A101": Decimal("401.049"), "A102": Decimal("397.800")}


def test_deposit_walks_its_states_each_by_its_role(people, vault):
    operator, custodian = people[Role.OPERATOR], people[Role.CUSTODIAN]
    deposit = deposit_make(operator=operator, vault=vault, reference="D-2", csv=bar_csv(BARS))
    assert deposit.state == DepositState.DRAFT

    receive = lambda user: services.deposit_receive(deposit_id=deposit.pk, receipt=upload(), actor=user)  # noqa: E731
    _refused_for_everyone_but({Role.CUSTODIAN}, people, receive, deposit)
    deposit = receive(custodian)
    assert deposit.state == DepositState.RECEIVED and len(deposit.receipt_sha256) == 64
    assert deposit.receipt_document.read() == b"%PDF-1.4 signed receipt"

    verify = lambda user: services.deposit_verify(deposit_id=deposit.pk, actor=user)  # noqa: E731
    _refused_for_everyone_but({Role.CUSTODIAN}, people, verify, deposit)
    assert verify(custodian).state == DepositState.VERIFIED

    entry = JournalEntry.objects.filter(action="issuance.deposit.verify").get()
    assert (entry.actor, entry.state_before, entry.state_after) == (custodian, "received", "verified")
    assert journal_verify().ok


def test_audit_walks_its_states_by_its_named_auditor_only(people, vault):
    operator, custodian, auditor = people[Role.OPERATOR], people[Role.CUSTODIAN], people[Role.AUDITOR]
    other_auditor = user_with_role(Role.AUDITOR, username="second-auditor")
    deposit = deposit_verified(operator=operator, custodian=custodian, vault=vault, reference="D-3",
                               csv=bar_csv(BARS))
    audit = services.audit_plan(vault=vault, as_of=deposit.received_at.date(), auditor=auditor, firm="Assay LLP",
                                actor=operator)
    people_and_impostor = {**people, "other auditor": other_auditor}

    start = lambda user: services.audit_start_fieldwork(audit_id=audit.pk, actor=user)  # noqa: E731
    _refused_for_everyone_but({Role.AUDITOR}, people_and_impostor, start, audit)
    assert start(auditor).state == AuditState.FIELDWORK

    services.audit_counts_import(audit_id=audit.pk, content=bar_csv(BARS), actor=auditor)
    submit = lambda user: services.audit_submit(audit_id=audit.pk, report=upload("r.pdf", b"report"), actor=user)  # noqa: E731
    _refused_for_everyone_but({Role.AUDITOR}, people_and_impostor, submit, audit)
    audit = submit(auditor)
    assert audit.state == AuditState.SUBMITTED and not audit.discrepancies.exists()

    accept = lambda user: services.audit_accept(audit_id=audit.pk, actor=user)  # noqa: E731
    _refused_for_everyone_but({Role.AUDITOR}, people_and_impostor, accept, audit)
    assert accept(auditor).state == AuditState.ACCEPTED
    deposit.refresh_from_db()
    assert deposit.state == DepositState.AUDITED
    assert set(Bar.objects.values_list("audited_by", flat=True)) == {audit.pk}

    release = lambda user: services.deposit_release(deposit_id=deposit.pk, reason="redeemed", actor=user)  # noqa: E731
    _refused_for_everyone_but({Role.CUSTODIAN}, people, release, deposit)
    assert release(custodian).state == DepositState.RELEASED


def test_reject_needs_a_reason_and_is_refused_after_audit(people, vault):
    custodian = people[Role.CUSTODIAN]
    deposit = deposit_make(operator=people[Role.OPERATOR], vault=vault, reference="D-4", csv=bar_csv(BARS))
    before = _snapshot(deposit)
    with pytest.raises(services.InvalidInput, match="reason is required"):
        services.deposit_reject(deposit_id=deposit.pk, reason="  ", actor=custodian)
    assert _snapshot(deposit) == before
    reject = lambda user: services.deposit_reject(deposit_id=deposit.pk, reason="assay certificate forged", actor=user)  # noqa: E731
    _refused_for_everyone_but({Role.CUSTODIAN}, people, reject, deposit)
    deposit = reject(custodian)
    assert (deposit.state, deposit.rejection_reason) == (DepositState.REJECTED, "assay certificate forged")
    with pytest.raises(TransitionRefused, match="not allowed from state 'rejected'"):
        services.deposit_verify(deposit_id=deposit.pk, actor=custodian)


def test_submit_lists_every_discrepancy_and_a_dispute_blocks_the_affected_bars(people, vault):
    operator, custodian, auditor = people[Role.OPERATOR], people[Role.CUSTODIAN], people[Role.AUDITOR]
    deposit = deposit_verified(operator=operator, custodian=custodian, vault=vault, reference="D-5",
                               csv=bar_csv(BARS))
    counted = [("A100", "400.000", "999.9", ""), ("A101", "401.000", "999.5", ""),  # A101 lighter
               ("A102", "399.800", "999.9", ""), ("Z999", "400.000", "999.9", "")]  # A102 assay; Z999 extra
    audit = audit_submitted(operator=operator, auditor=auditor, vault=vault, counts_csv=bar_csv(counted))
    kinds = set(Discrepancy.objects.filter(audit=audit).values_list("kind", "serial"))
    # A102's other assay also gives another fine weight: both are listed.
    assert kinds == {("weight", "A101"), ("fineness", "A102"), ("weight", "A102"), ("unexpected", "Z999")}

    with pytest.raises(TransitionRefused):
        services.audit_accept(audit_id=audit.pk, actor=auditor)
    services.audit_dispute(audit_id=audit.pk, reason="two bars differ", actor=auditor)
    blocked = set(Bar.objects.filter(blocked_by=audit).values_list("serial", flat=True))
    assert blocked == {"A101", "A102"}

    # A later accepted audit with a clean count clears the dispute.
    clean = audit_submitted(operator=operator, auditor=auditor, vault=vault, counts_csv=bar_csv(
        [("A100", "400.000", "999.9", ""), ("A101", "401.250", "999.5", ""), ("A102", "399.800", "995.0", "397.800")]
    ))
    services.audit_accept(audit_id=clean.pk, actor=auditor)
    assert not Bar.objects.filter(blocked_by__isnull=False).exists()
    deposit.refresh_from_db()
    assert deposit.state == DepositState.AUDITED


def test_a_missing_bar_is_a_discrepancy(people, vault):
    operator, custodian, auditor = people[Role.OPERATOR], people[Role.CUSTODIAN], people[Role.AUDITOR]
    deposit_verified(operator=operator, custodian=custodian, vault=vault, reference="D-6", csv=bar_csv(BARS))
    audit = audit_submitted(operator=operator, auditor=auditor, vault=vault, counts_csv=bar_csv(BARS[:2]))
    assert list(audit.discrepancies.values_list("kind", "serial")) == [("missing", "A102")]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("B1", "", "999.9", "")], "row 4: gross weight is missing"),
        ([("B1", "400", "999.9", ""), ("B1", "400", "999.9", "")], "row 5: bar Valcambi B1 repeats row 4"),
        ([("B1", "0", "999.9", "")], "row 4: gross weight 0 must be above zero"),
        ([("B1", "-1", "999.9", "")], "row 4: gross weight -1 must be above zero"),
        ([("B1", "400", "1000.1", "")], r"row 4: fineness 1000.1 is outside \(0, 1000\]"),
        ([("B1", "400", "0", "")], r"row 4: fineness 0 is outside"),
        ([("B1", "four hundred", "999.9", "")], "row 4: gross weight 'four hundred' is not a number"),
        ([("B1", "400", "999.9", "401")], "row 4: fine weight 401 must be above zero and at most"),
        ([("B1", "400.0001", "999.9", "")], "has more than 3 decimals"),
        ([("B1", "NaN", "999.9", "")], "is not a number"),
        ([("B1", '"400,125"', "999.9", "")], "has a comma"),
        ([("B1", "1e30", "999.9", "")], "not a bar"),
        ([("B1", "400", "750", "400")], r"does not match gross x fineness / 1000 = 300.000"),
        ([("=HYPERLINK(1)", "400", "999.9", "")], "starts like a spreadsheet formula"),
        ([("S" * 51, "400", "999.9", "")], "longer than 50 characters"),
        ([("B\x001", "400", "999.9", "")], r"row 4: contains a NUL character \(byte 0\)"),  # PostgreSQL: a 500
    ],
)
def test_a_bad_row_rejects_the_whole_bar_list(people, vault, rows, message):
    operator = people[Role.OPERATOR]
    deposit = services.deposit_create(reference="D-7", depositor="X", vault=vault, actor=operator)
    good = [("G1", "400", "999.9", ""), ("G2", "400", "999.9", "")]
    journal = JournalEntry.objects.count()
    with pytest.raises(BarListInvalid, match=message):
        services.deposit_bars_import(deposit_id=deposit.pk, content=bar_csv(good + rows), actor=operator)
    assert not Bar.objects.exists() and JournalEntry.objects.count() == journal


def test_a_nul_in_any_cell_refuses_the_list_naming_each_row_that_has_one():
    content = ("Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness,No\x00tes\n"
               "N1,Valcambi,2024,400,999.9,fine\n"
               "N2,Valcambi,2024,400,999.9,see\x00page 2\n"
               "N3,Valcambi,2024,400,999.9,\n")
    with pytest.raises(BarListInvalid) as refused:
        bar_rows_parse(content)
    nul = "contains a NUL character (byte 0); save the list again as CSV UTF-8"
    assert refused.value.errors == [f"row 1: {nul}", f"row 3: {nul}"]


def test_row_numbers_count_the_header_and_every_error_is_listed(people, vault):
    operator = people[Role.OPERATOR]
    deposit = services.deposit_create(reference="D-8", depositor="X", vault=vault, actor=operator)
    csv = bar_csv([("C1", "400", "999.9", ""), ("C2", "x", "999.9", ""), ("C3", "400", "2000", "")])
    with pytest.raises(BarListInvalid) as info:
        services.deposit_bars_import(deposit_id=deposit.pk, content=csv, actor=operator)
    assert [e.split(":")[0] for e in info.value.errors] == ["row 3", "row 4"]


def test_a_bar_already_in_custody_cannot_back_a_second_deposit(people, vault):
    operator = people[Role.OPERATOR]
    deposit_make(operator=operator, vault=vault, reference="D-9", csv=bar_csv(BARS))
    second = services.deposit_create(reference="D-10", depositor="X", vault=vault, actor=operator)
    with pytest.raises(BarListInvalid, match="row 3: bar Valcambi A101 is already recorded"):
        services.deposit_bars_import(deposit_id=second.pk, content=bar_csv([("N1", "400", "999.9", ""),
                                                                             ("A101", "400", "999.9", "")]),
                                     actor=operator)
    assert not second.bars.exists()


def test_bad_files_are_refused_with_a_clear_message(people, vault):
    operator = people[Role.OPERATOR]
    deposit = services.deposit_create(reference="D-11", depositor="X", vault=vault, actor=operator)
    for content, message in [(b"", "empty"), (b"\xff\xfe\x00garbage", "not UTF-8"),
                             ("Refiner,Year\nX,2020\n", "missing column 'bar number'"),
                             ("Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness\n", "no bars")]:
        with pytest.raises(BarListInvalid, match=message):
            services.deposit_bars_import(deposit_id=deposit.pk, content=content, actor=operator)
    assert not Bar.objects.exists()


def test_receive_without_a_document_is_refused(people, vault):
    deposit = deposit_make(operator=people[Role.OPERATOR], vault=vault, reference="D-12", csv=bar_csv(BARS))
    before = _snapshot(deposit)
    with pytest.raises(services.InvalidInput, match="receipt file is missing or empty"):
        services.deposit_receive(deposit_id=deposit.pk, receipt=SimpleUploadedFile("empty.pdf", b""),
                                 actor=people[Role.CUSTODIAN])
    assert _snapshot(deposit) == before


def test_only_operators_record_deposits_plan_audits_and_prices(people, vault):
    from django.utils import timezone

    for role, user in people.items():
        if role == Role.OPERATOR:
            continue
        with pytest.raises(TransitionRefused):
            services.deposit_create(reference=f"X-{role}", depositor="X", vault=vault, actor=user)
        with pytest.raises(TransitionRefused):
            services.audit_plan(vault=vault, as_of=timezone.localdate(), auditor=people[Role.AUDITOR], firm="F",
                                actor=user)
        with pytest.raises(TransitionRefused):
            services.gold_price_record(usd_per_oz="2400", source="LBMA", as_of=timezone.now(), actor=user)
    assert not Deposit.objects.exists() and not Audit.objects.exists()


def test_a_bar_differing_only_in_letter_case_is_the_same_bar(people, vault):
    operator = people[Role.OPERATOR]
    deposit_make(operator=operator, vault=vault, reference="D-CASE-1", csv=bar_csv([("ab123", "400", "999.9", "")]))
    second = services.deposit_create(reference="D-CASE-2", depositor="X", vault=vault, actor=operator)
    with pytest.raises(BarListInvalid, match="row 2: bar Valcambi AB123 is already recorded"):
        services.deposit_bars_import(deposit_id=second.pk, content=bar_csv([("AB123", "400", "999.9", "")]),
                                     actor=operator)
    assert not second.bars.exists()
