"""What the signing page shows beyond the call itself.

- The apps' sections (settings.SIGNING_PAGE_SECTIONS): paths of `(tx) -> SigningSection | None`, each
  rendering its own small template (issuance: the memo, backing deposits and the reserve before and
  after; compliance: the case and the address as the chain sees it now). The kernel never imports
  the apps; a section that does not apply to a transaction returns None.
- The three hashes a hardware-wallet user compares on the device: the EIP-712 domain separator, the
  SafeTx struct (message) hash, and the safeTxHash they make together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from backoffice.chain.safetx import domain_separator

from .kinds import safe_tx_of
from .models import MultisigTransaction


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
