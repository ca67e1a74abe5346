"""The demo's gold: what `seed_demo` adds so the proof of reserve is not empty (local chains only).
Registered in settings.DEMO_SEEDERS, so the kernel's `seed_demo` never imports this app."""

from __future__ import annotations

from django.contrib.auth import get_user_model


def demo_gold_seed() -> str:
    """A vault, three audited deposits, an accepted audit and a gold price, so the demo's proof of
    reserve is not empty. Does nothing (returns "") when any deposit exists; otherwise says what it made."""
    from datetime import timedelta
    from decimal import Decimal

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from issuance import services as gold
    from issuance.models import Deposit, Vault

    if Deposit.objects.exists():
        return ""
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
    return f"Demo gold: 3 audited deposits ({len(all_rows)} bars), an accepted audit, a gold price"
