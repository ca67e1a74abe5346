"""Test data made through the real services, so state machines and the journal are exercised."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from issuance import services
from issuance.models import Audit, Deposit, Vault


class VaultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vault
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Vault {n}")
    location = "Zurich"


def user_with_role(role: str, username: str | None = None) -> User:
    user = get_user_model().objects.create_user(username or f"{role}-{Group.objects.count()}-{timezone.now():%f}",
                                                password="x" * 12, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def bar_csv(bars: list[tuple[str, str, str, str]], *, refiner: str = "Valcambi") -> str:
    """bars: (serial, gross_oz, fineness, fine_oz or '') rows of an LBMA-style list."""
    lines = ["Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness,Fine Weight"]
    lines += [f"{serial},{refiner},2024,{gross},{fineness},{fine}" for serial, gross, fineness, fine in bars]
    return "\n".join(lines) + "\n"


def upload(name: str = "receipt.pdf", content: bytes = b"%PDF-1.4 signed receipt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def deposit_make(*, operator: User, vault: Vault, reference: str, csv: str) -> Deposit:
    deposit = services.deposit_create(reference=reference, depositor="Gold Refinery SA", vault=vault, actor=operator)
    services.deposit_bars_import(deposit_id=deposit.pk, content=csv, actor=operator)
    return deposit


def deposit_verified(*, operator: User, custodian: User, vault: Vault, reference: str, csv: str) -> Deposit:
    deposit = deposit_make(operator=operator, vault=vault, reference=reference, csv=csv)
    services.deposit_receive(deposit_id=deposit.pk, receipt=upload(f"{reference}.pdf", reference.encode()),
                             actor=custodian)
    return services.deposit_verify(deposit_id=deposit.pk, actor=custodian)


def audit_submitted(*, operator: User, auditor: User, vault: Vault, counts_csv: str,
                    as_of: date | None = None) -> Audit:
    audit = services.audit_plan(vault=vault, as_of=as_of or timezone.localdate(), auditor=auditor,
                                firm="Independent Assay LLP", actor=operator)
    services.audit_start_fieldwork(audit_id=audit.pk, actor=auditor)
    services.audit_counts_import(audit_id=audit.pk, content=counts_csv, actor=auditor)
    return services.audit_submit(audit_id=audit.pk, report=upload("report.pdf", b"%PDF audit report"), actor=auditor)


def price_record(*, operator: User, usd_per_oz: str, minutes_ago: int = 1) -> None:
    services.gold_price_record(usd_per_oz=Decimal(usd_per_oz), source="LBMA PM",
                               as_of=timezone.now() - timedelta(minutes=minutes_ago), actor=operator)


def issue_on_chain(*, amount: int, recipient: str) -> None:
    """Put `amount` base units on chain through the issuance multisig, of whichever kind: 3 owners
    consent, and the execution runs in this process (the Celery worker path is proven elsewhere)."""
    from backoffice.multisig.models import TxState
    from backoffice.multisig.tests.helpers import consent_and_execute, issue_propose

    settled = consent_and_execute(issue_propose(amount, recipient), ["owner1", "owner2", "owner3"])
    assert settled.state == TxState.EXECUTED, settled.failure_reason
