"""Compliance's part of the signing page (registered in settings.SIGNING_PAGE_SECTIONS, so the kernel never
imports this app): the case that asks for the call, its evidence, and the address as the chain sees it
NOW (token balance and blacklist status, read through the one chain client when the page is drawn)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from backoffice.chain.client import ChainError, chain_client
from backoffice.chain.selectors import deployment_get
from backoffice.core.amounts import tokens_format
from backoffice.multisig.models import MultisigTransaction
from backoffice.multisig.signing import SigningSection
from backoffice.multisig.timeline import admin_url

from .models import ComplianceProposal


def _address_now(address: str) -> dict[str, Any]:
    """The address's token balance and blacklist status at the chain's latest block."""
    try:
        client, token = chain_client(), deployment_get().token
        block = client.block_number()
        balance = client.token_balance(token, address, block=block)
        return {"block": block, "balance": tokens_format(balance), "balance_base_units": balance,
                "blacklisted": client.token_is_blacklisted(token, address, block=block)}
    except ChainError as exc:
        return {"error": f"The chain node could not be asked about {address}: {exc}"}


def section(tx: MultisigTransaction) -> SigningSection | None:
    """The case behind `tx`; None for a transaction no compliance proposal carries."""
    proposal = tx.subject
    if not isinstance(proposal, ComplianceProposal):
        return None
    case = proposal.case
    evidence = [{"name": e.file_name or e.file.name.rsplit("/", 1)[-1], "sha256": e.sha256,
                 "description": e.description, "url": reverse("compliance:evidence", args=[e.pk])}
                for e in case.evidence.order_by("uploaded_at", "pk")]
    context = {"proposal": proposal, "case": case, "case_url": admin_url(case), "evidence": evidence,
               "rejection": tx.replaces_id is not None, "chain": _address_now(proposal.address)}
    return SigningSection(title=f"Why the officers are asked: {proposal.reference}, case #{case.pk}",
                          template="compliance/signing_section.html", context=context, html_id="compliance-section")
