"""Writes of the issuance app: the gold side (gold.py), bar-list imports (imports.py) and owner proposals
(proposals.py)."""

from backoffice.journal.services import TransitionRefused

from .gold import (
    InvalidInput,
    audit_accept,
    audit_counts_import,
    audit_dispute,
    audit_plan,
    audit_start_fieldwork,
    audit_submit,
    deposit_bars_import,
    deposit_create,
    deposit_receive,
    deposit_reject,
    deposit_release,
    deposit_verify,
    gold_price_approve,
    gold_price_feed_read,
    gold_price_propose,
    gold_price_record,
    gold_price_reject,
    reserve_snapshot_take,
    vault_save,
)
from .imports import bar_list_import_run, bar_list_import_start, bar_list_imports_recover
from .proposals import (
    deposit_backing_capacity,
    proposal_call,
    proposal_cancel,
    proposal_draft,
    proposal_propose,
)

__all__ = [
    "InvalidInput", "TransitionRefused", "audit_accept", "audit_counts_import", "audit_dispute", "audit_plan",
    "audit_start_fieldwork", "audit_submit", "bar_list_import_run", "bar_list_import_start", "bar_list_imports_recover",
    "deposit_backing_capacity",
    "deposit_bars_import", "deposit_create", "deposit_receive", "deposit_reject", "deposit_release", "deposit_verify",
    "gold_price_approve", "gold_price_feed_read", "gold_price_propose", "gold_price_record",
    "gold_price_reject", "proposal_call", "proposal_cancel", "proposal_draft", "proposal_propose",
    "reserve_snapshot_take", "vault_save",
]
