"""Demo users: one per role, signers bound to anvil's PUBLIC test accounts (see chain/devkeys.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from backoffice.chain.devkeys import OFFICER_INDEXES, OWNER_INDEXES, dev_account
from backoffice.journal.services import journal_record
from backoffice.multisig.models import MultisigRole, Signer
from backoffice.multisig.services import signer_bind

from .roles import Role, roles_sync


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    multisig: str = ""
    account_index: int | None = None


DEMO_USERS = [
    *(DemoUser(f"owner{n}", Role.OWNER, MultisigRole.ISSUANCE, i) for n, i in enumerate(OWNER_INDEXES, 1)),
    *(DemoUser(f"officer{n}", Role.COMPLIANCE_OFFICER, MultisigRole.COMPLIANCE, i)
      for n, i in enumerate(OFFICER_INDEXES, 1)),
    DemoUser("operator", Role.OPERATOR),
    DemoUser("custodian", Role.CUSTODIAN),
    DemoUser("auditor", Role.AUDITOR),
    DemoUser("manager", Role.MANAGER),
]


@dataclass(frozen=True)
class SeededUser:
    username: str
    role: str
    address: str
    password: str | None  # only when created now: it is never stored in clear anywhere


def demo_seed(*, password: str | None = None) -> list[SeededUser]:
    """Create the demo users, roles and signer bindings that are missing; touch nothing that exists.

    Passwords are random (or `password`, for tests) and returned only for users created now.
    """
    user_model = get_user_model()
    roles_sync()
    seeded = []
    with transaction.atomic():
        for demo in DEMO_USERS:
            user = user_model.objects.filter(username=demo.username).first()
            new_password = None
            if user is None:
                new_password = password or secrets.token_urlsafe(12)
                user = user_model.objects.create_user(username=demo.username, password=new_password, is_staff=True)
                journal_record(action="user.created", obj=user, actor_username="seed_demo",
                               data={"username": demo.username, "role": demo.role})
            user.groups.add(Group.objects.get(name=demo.role))
            address = ""
            if demo.account_index is not None:
                address = dev_account(demo.account_index).address
                signer_bind(user=user, address=address, multisig=demo.multisig, actor=None)
            seeded.append(SeededUser(demo.username, demo.role, address, new_password))
    return seeded


def signer_addresses(multisig: str) -> list[str]:
    return list(Signer.objects.filter(multisig=multisig).order_by("address").values_list("address", flat=True))


def demo_gold_seed() -> int:
    """A vault, three audited deposits, an accepted audit and a gold price, so the demo's proof of
    reserve is not empty. Does nothing when any deposit exists. Returns the number of bars made."""
    from datetime import timedelta
    from decimal import Decimal

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from issuance import services as gold
    from issuance.models import Deposit, Vault

    if Deposit.objects.exists():
        return 0
    users = get_user_model().objects
    operator, custodian, auditor = (users.get(username=n) for n in ("operator", "custodian", "auditor"))
    vault, _ = Vault.objects.get_or_create(name="Zurich Free Port", defaults={"location": "Zurich, CH"})
    header = "Bar Number,Refiner,Year of Manufacture,Gross Weight,Fineness,Fine Weight\n"
    all_rows = []
    for n, refiner in enumerate(("Valcambi", "PAMP", "Argor-Heraeus"), start=1):
        rows = [f"DEMO{n}{i:03d},{refiner},2025,{400 + (i % 7) * Decimal('0.125')},999.9," for i in range(40)]
        all_rows += rows
        deposit = gold.deposit_create(reference=f"DEP-2026-{n:03d}", depositor=f"{refiner} SA", vault=vault,
                                      actor=operator)
        gold.deposit_bars_import(deposit_id=deposit.pk, content=header + "\n".join(rows), actor=operator)
        receipt = SimpleUploadedFile(f"receipt-{n}.txt", f"Demo vault receipt for DEP-2026-{n:03d}".encode())
        gold.deposit_receive(deposit_id=deposit.pk, receipt=receipt, actor=custodian)
        gold.deposit_verify(deposit_id=deposit.pk, actor=custodian)
    audit = gold.audit_plan(vault=vault, as_of=timezone.localdate(), auditor=auditor, firm="Demo Assurance LLP",
                            actor=operator)
    gold.audit_start_fieldwork(audit_id=audit.pk, actor=auditor)
    gold.audit_counts_import(audit_id=audit.pk, content=header + "\n".join(all_rows), actor=auditor)
    gold.audit_submit(audit_id=audit.pk, report=SimpleUploadedFile("audit-report.txt", b"Demo audit report"),
                      actor=auditor)
    gold.audit_accept(audit_id=audit.pk, actor=auditor)
    gold.gold_price_record(usd_per_oz="2650.5000", source="LBMA Gold Price PM (demo)",
                           as_of=timezone.now() - timedelta(minutes=5), actor=operator)
    return len(all_rows)
