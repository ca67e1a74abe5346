"""Compliance writes: cases, proposals to the compliance multisig (5 of 5), the register, screening.

Every refusal leaves the database as it was (a refused signature is only journalled)."""

from __future__ import annotations

import csv
import io
from datetime import date

from django.contrib.auth.models import User
from django.core.files.base import File
from django.db import IntegrityError, transaction
from django.utils import timezone

from backoffice.chain.addresses import address_normalize, address_require_checksummed
from backoffice.chain.client import ChainClient, relayer_account
from backoffice.chain.safetx import ZERO_ADDRESS
from backoffice.chain.selectors import deployment_get
from backoffice.core.errors import InvalidInput
from backoffice.core.files import file_store, upload_require
from backoffice.journal.services import TransitionRefused, journal_record, transition_apply
from backoffice.multisig.actions import action_require, calldata_summary
from backoffice.multisig.models import PENDING_STATES, SENDING_STATES, MultisigRole, TxState
from backoffice.multisig.services import multisig_transaction_cancel, multisig_transaction_propose

from .actions import ComplianceProposalAction
from .models import (
    Case,
    CaseCategory,
    CaseEvidence,
    ComplianceProposal,
    FrozenAddress,
    ScreeningEntry,
    ScreeningImport,
)
from .models.cases import EVIDENCE
from .models.register import SCREENING_LIST


def _officer_require(actor: User) -> None:
    if not actor.has_perm("compliance.act_compliance"):
        raise TransitionRefused("only compliance officers may do this")


def address_guard(address: str) -> str:
    """The address compliance may act on: checksummed, and none of the system's own addresses."""
    try:
        address = address_require_checksummed(address)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="address") from exc
    if address == ZERO_ADDRESS:
        raise InvalidInput("the zero address cannot be acted on", field="address")
    d = deployment_get()
    own = {d.issuance_multisig: "the issuance multisig", d.compliance_multisig: "the compliance multisig",
           d.token: "the token contract itself", relayer_account().address: "the relayer account"}
    if address in own:
        raise InvalidInput(f"{address} is {own[address]}: compliance cannot act on it", field="address")
    return address


def case_open(*, address: str, category: str, reference: str, description: str, actor: User) -> Case:
    """Officer: a case for one address, with a reason category, a reference and a description."""
    _officer_require(actor)
    address = address_guard(address)
    if category not in CaseCategory.values:
        raise InvalidInput(f"category must be one of {', '.join(CaseCategory.values)}", field="category")
    reference, description = (reference or "").strip(), (description or "").strip()
    if not reference or not description:
        raise InvalidInput("a reference and a description are required")
    with transaction.atomic():
        case = Case.objects.create(address=address, category=category, reference=reference,
                                   description=description, opened_by=actor)
        journal_record(action="compliance.case.opened", actor=actor, obj=case, state_after=case.state,
                       data={"address": address, "category": category, "reference": reference})
    return case


def case_evidence_add(*, case_id: int, upload: File, description: str, actor: User) -> CaseEvidence:
    _officer_require(actor)
    if not Case.objects.filter(pk=case_id, state="open").exists():
        raise InvalidInput("evidence is added to an open case only")
    stored = file_store(upload=upload, kind=EVIDENCE)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case_id)
        evidence = CaseEvidence.objects.create(case=case, file=stored.name, file_name=stored.original_name,
                                               sha256=stored.sha256, uploaded_by=actor,
                                               description=(description or "").strip()[:300])
        journal_record(action="file.uploaded", actor=actor, obj=case,
                       data={"file": stored.name, "name": stored.original_name, "sha256": stored.sha256,
                             "size": stored.size})
    return evidence


def case_close(*, client: ChainClient, case_id: int, reason: str, actor: User) -> Case:
    """Officer: close the case and, in the same database transaction, withdraw its pending proposals.

    Each pending proposal's multisig transaction is cancelled by the kernel with the close reason;
    where it carries signatures, was approved, or later nonces wait on it, the kernel proposes a
    rejection at its nonce, so nothing of a closed case can still execute and the queue moves on.
    Refuses (nothing changed): no reason, a closed case, an actor who may not close, and a case with
    a proposal being sent or sent (broadcasting, submitted): it may already be mined, and no row
    change here can stop it, so the case stays open until the follower settles it. Makes no chain
    call: `client` only names the chain whose proposers' lock the kernel takes.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a reason is required")
    with transaction.atomic():
        # The case first, as compliance_proposal_create does: no proposal can be added meanwhile.
        Case.objects.select_for_update().get(pk=case_id)
        pending = list(ComplianceProposal.objects.select_related("transaction")
                       .filter(case_id=case_id, transaction__state__in=PENDING_STATES).order_by("pk"))
        sending = [p for p in pending if p.transaction.state in SENDING_STATES]
        if sending:
            raise TransitionRefused(
                "the case cannot be closed while a proposal of it is being sent: "
                + ", ".join(f"{p.reference} {p.action} (nonce {p.transaction.nonce}, {p.transaction.status_label})"
                            for p in sending)
                + "; it may already be on chain. Close the case once it is executed or failed.")
        case = transition_apply(model=Case, pk=case_id, transition="close", actor=actor, reason=reason,
                                params={"reason": reason})
        for proposal in pending:
            rejection = multisig_transaction_cancel(client=client, transaction_id=proposal.transaction.pk,
                                                    reason=f"case {case_id} closed: {reason}", actor=actor)
            journal_record(action="compliance.proposal.withdrawn", actor=actor, obj=proposal, reason=reason,
                           state_after=TxState.CANCELLED,
                           data={"case": case_id, "action": proposal.action, "address": proposal.address,
                                 "nonce": proposal.transaction.nonce,
                                 "rejection": rejection.safe_tx_hash if rejection else None})
    return case


def compliance_action_get(name: str) -> ComplianceProposalAction:
    """The registered compliance action named `name`; refuses (field `action`) any other."""
    return action_require(name, role=MultisigRole.COMPLIANCE, cls=ComplianceProposalAction, field="action")


def compliance_proposal_create(
    *, client: ChainClient, case_id: int, action: str, actor: User, confirm_amount: str | None = None,
    **inputs: object,
) -> ComplianceProposal:
    """Officer: propose one compliance action on the case's address to the compliance multisig.

    `action` names a registered compliance action (compliance/actions.py), which says when the chain
    state allows it (blacklist an address not yet blacklisted, unblacklist a blacklisted one, destroy
    the funds of a blacklisted one holding tokens) and validates its inputs (destroy funds:
    `confirm_amount` typed exactly as the balance to burn). Refuses too: a closed case, a guarded
    address, a second open proposal for the same address and action (the register row is locked, so
    two officers cannot race).
    """
    _officer_require(actor)
    chosen = compliance_action_get(action)
    case = Case.objects.get(pk=case_id)
    if case.state != "open":
        raise InvalidInput("the case is closed")
    address = address_guard(case.address)
    token = deployment_get().token
    listed = client.token_is_blacklisted(token, address)
    balance = client.token_balance(token, address)
    refusal = chosen.refusal(address=address, listed=listed, balance=balance)
    if refusal:
        raise InvalidInput(refusal, field="action")
    values = chosen.clean(client=client, values={**inputs, "confirm_amount": confirm_amount, "address": address,
                                                 "balance": balance})
    values["address"] = address
    data = chosen.calldata(client=client, values=values)
    decoded = {**calldata_summary(chosen, client=client, data=data), "case": case.pk, "action": chosen.name,
               **chosen.summary(values)}
    confirmed = values.get("balance_confirmed")
    with transaction.atomic():
        # Locked before anything else, as case_close does: a case closing meanwhile gets no new proposal.
        if Case.objects.select_for_update().get(pk=case.pk).state != "open":
            raise InvalidInput("the case is closed")
        FrozenAddress.objects.get_or_create(address=address, defaults={"case": case})
        FrozenAddress.objects.select_for_update().get(address=address)  # one proposer per address at a time
        if ComplianceProposal.objects.filter(address=address, action=chosen.name,
                                             transaction__state__in=PENDING_STATES).exists():
            raise InvalidInput(f"an open {chosen.name} proposal for {address} already exists", field="action")
        tx = multisig_transaction_propose(client=client, multisig=MultisigRole.COMPLIANCE, to=token, data=data,
                                          decoded=decoded, actor=actor)
        proposal = ComplianceProposal.objects.create(case=case, action=chosen.name, address=address, transaction=tx,
                                                     balance_confirmed=confirmed, created_by=actor)
        journal_record(action="compliance.proposal.created", actor=actor, obj=proposal, state_after=tx.state,
                       data={"case": case.pk, "action": chosen.name, "address": address,
                             "safe_tx_hash": tx.safe_tx_hash, "nonce": tx.nonce,
                             **({"balance": str(balance)} if confirmed is not None else {})})
    return proposal


def register_refresh(*, client: ChainClient, address: str) -> FrozenAddress:
    """Read the address's blacklist status and balance from chain into the register."""
    token, block = deployment_get().token, client.block_number()
    listed = client.token_is_blacklisted(token, address, block=block)
    balance = client.token_balance(token, address, block=block)  # both facts from the same block
    with transaction.atomic():
        entry = FrozenAddress.objects.select_for_update().get(address=address)
        was_mismatch = entry.mismatch
        entry.on_chain_blacklisted, entry.balance = listed, balance
        entry.checked_at, entry.checked_block = timezone.now(), block
        entry.save(update_fields=["on_chain_blacklisted", "balance", "checked_at", "checked_block"])
        if entry.mismatch and not was_mismatch:
            journal_record(action="compliance.register.mismatch", obj=entry, actor_username="register",
                           data={"address": address, "expected": entry.expected_blacklisted, "on_chain": listed})
    return entry


def register_refresh_all(*, client: ChainClient) -> int:
    addresses = list(FrozenAddress.objects.values_list("address", flat=True))
    for address in addresses:
        register_refresh(client=client, address=address)
    return len(addresses)


def screening_import(*, upload: File, source: str, list_name: str, listed_on: date, actor: User) -> ScreeningImport:
    """Import a sanctions list (CSV with an `address` column, optional `name`): all rows or none.

    Refuses a row whose address is not 0x + 40 hex digits, an address listed twice in the file, a NUL
    character in any cell, an empty file, a list date in the future, or a missing source or list name;
    errors name their row. Cells beyond the header's columns are ignored.
    Addresses are stored checksummed whatever case the list used.
    """
    _officer_require(actor)
    source, list_name = (source or "").strip(), (list_name or "").strip()
    if not source or not list_name:
        raise InvalidInput("the list's source and name are required")
    if listed_on > timezone.localdate():
        raise InvalidInput("the list date is in the future")
    upload_require(upload, SCREENING_LIST)  # before it is read: the size limit bounds the memory used
    content = upload.read()
    upload.seek(0)
    try:
        rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    except UnicodeDecodeError as exc:
        raise InvalidInput("the file is not UTF-8 text") from exc
    if not rows or "address" not in {(k or "").strip().lower() for k in rows[0]}:
        raise InvalidInput("the file needs a header with an 'address' column and at least one row")
    # PostgreSQL cannot store a NUL: a file with one is damaged or not a CSV export, whichever cell holds it.
    nul = "contains a NUL character (byte 0); save the list again as CSV UTF-8"
    errors: list[str] = [f"row 1: {nul}"] if any("\x00" in (k or "") for k in rows[0]) else []
    entries: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, start=2):
        # Cells beyond the header's columns (a trailing comma) come under the key None, as a list: not ours.
        cells = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        if any("\x00" in v for v in cells.values()):
            errors.append(f"row {number}: {nul}")
            continue
        raw = cells.get("address", "")
        address = address_normalize(raw)
        if address is None:
            errors.append(f"row {number}: '{raw}' is not an address")
            continue
        if address in seen:
            errors.append(f"row {number}: {address} repeats row {seen[address]}")
            continue
        seen[address] = number
        entries.append((address, cells.get("name", "")[:200]))
    if errors:
        raise InvalidInput(f"{len(errors)} error(s), nothing imported: " + "; ".join(errors[:50]))
    stored = file_store(upload=upload, kind=SCREENING_LIST)
    try:
        with transaction.atomic():
            batch = ScreeningImport.objects.create(file=stored.name, file_name=stored.original_name,
                                                   sha256=stored.sha256, source=source, list_name=list_name,
                                                   listed_on=listed_on, rows=len(entries), imported_by=actor)
            ScreeningEntry.objects.bulk_create([ScreeningEntry(batch=batch, address=a, name=n) for a, n in entries])
            journal_record(action="compliance.screening.imported", actor=actor, obj=batch,
                           data={"file": stored.name, "name": stored.original_name, "sha256": stored.sha256,
                                 "rows": len(entries), "list": list_name})
    except IntegrityError as exc:
        raise InvalidInput("the list could not be stored") from exc
    return batch
