"""What the signing page shows beyond the call itself.

- The apps' sections (settings.SIGNING_PAGE_SECTIONS): paths of `(tx) -> SigningSection | None`, each
  rendering its own small template (issuance: the memo, backing deposits and the reserve before and
  after; compliance: the case and the address as the chain sees it now). The kernel never imports
  the apps; a section that does not apply to a transaction returns None.
- The three hashes a hardware-wallet user compares on the device: the EIP-712 domain separator, the
  SafeTx struct (message) hash, and the safeTxHash they make together.
- The page's version: a fingerprint of what the open page keeps current, which its long-poll
  (views.transaction_wait) compares to learn of a change as soon as it is committed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q, Subquery
from django.utils.module_loading import import_string

from backoffice.chain.safetx import domain_separator

from .kinds import safe_tx_of
from .models import PENDING_STATES, MultisigTransaction


@dataclass(frozen=True)
class SigningSection:
    """One app's part of the page: a heading, its template and that template's context."""

    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    # The HTML id of the section's module on the page (tests and people link to it).
    html_id: str = ""


def signing_sections(tx: MultisigTransaction) -> list[SigningSection]:
    """The sections the registered apps contribute for `tx`, in the order of the setting."""
    sections = []
    for path in settings.SIGNING_PAGE_SECTIONS:
        section = import_string(path)(tx)
        if section is not None:
            sections.append(section)
    return sections


@dataclass(frozen=True)
class SigningHashes:
    domain: str  # keccak256 of the EIP712Domain(chainId, verifyingContract) struct
    message: str  # keccak256 of the SafeTx struct
    safe_tx_hash: str  # keccak256(0x1901 || domain || message): what owners sign or approve
    matches: bool  # the stored safeTxHash is this one (the page refuses to offer signing otherwise)


def signing_hashes(tx: MultisigTransaction) -> SigningHashes:
    """Recomputed from the stored fields, so the page shows what the bytes make, and checked against the
    hash stored when the transaction was proposed: a mismatch must never reach a signer unnoticed."""
    domain = domain_separator(chain_id=tx.chain_id, safe_address=tx.safe_address)
    safe_tx = safe_tx_of(tx)
    digest = "0x" + safe_tx.safe_tx_hash(chain_id=tx.chain_id, safe_address=tx.safe_address).hex()
    return SigningHashes(domain="0x" + domain.hex(), message="0x" + safe_tx.struct_hash().hex(),
                         safe_tx_hash=digest, matches=digest == tx.safe_tx_hash.lower())


def signing_page_version(transaction_id: int) -> str:
    """A short fingerprint of everything the signing page of a transaction refreshes while it is open: this
    transaction's state, approvals and execution facts, and its multisig's queue (each pending
    transaction's state and approvals). Two equal versions: nothing the page shows has changed.

    Read from the committed rows, whoever changed them (a request, the worker, the chain watcher), so no
    writer has to announce its change; one query, cheap enough to repeat several times a second. An
    approval that a reorg removed changes the count, one that replaced it the highest id. Takes the id
    only, so a page can read it before it reads the transaction itself."""
    safe_address = MultisigTransaction.objects.filter(pk=transaction_id).values("safe_address")
    rows = (MultisigTransaction.objects
            .filter(Q(pk=transaction_id) | Q(safe_address=Subquery(safe_address), state__in=PENDING_STATES))
            .annotate(approvals=Count("confirmations"), last_approval=Max("confirmations__pk"))
            .order_by("pk")
            .values_list("pk", "state", "relayer_tx_hash", "block_number", "failure_reason", "cancel_reason",
                         "approvals", "last_approval"))
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()[:20]
