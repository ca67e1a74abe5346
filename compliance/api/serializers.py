"""Input parsing and output shapes of the compliance API. Serializers only parse and present: every rule
(officers only, guarded addresses, the typed destroy confirmation) is in compliance.services.

Token amounts travel as strings, never as JSON numbers: a uint256 balance overflows most clients' numbers.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from backoffice.core.api import BaseUnitsField, DecimalStringField, TokensField
from backoffice.core.files import UploadSerializerField
from backoffice.multisig.actions import action_find, actions_of
from backoffice.multisig.api_transactions import transaction_api_url
from backoffice.multisig.models import MultisigRole, MultisigTransaction, TxState
from compliance.models import Case, CaseCategory, CaseEvidence, CaseState, ComplianceProposal, FrozenAddress
from compliance.models.cases import EVIDENCE

# A compliance proposal's status is its multisig transaction's state. The labels say what each means for a
# five-of-five proposal; they also keep this choice set apart from the issuance API's in the schema.
PROPOSAL_STATUS_CHOICES = [
    (TxState.AWAITING_SIGNATURES, "waiting for the signatures of all five officers"),
    (TxState.APPROVED, "signed by all five officers, waiting for the broadcaster"),
    (TxState.BROADCASTING, "signed and stored by the relayer, being sent"),
    (TxState.SUBMITTED, "sent to the chain, waiting for confirmations"),
    (TxState.EXECUTED, "executed on chain"),
    (TxState.FAILED, "failed on chain or refused before sending"),
    (TxState.CANCELLED, "withdrawn before it was sent"),
    (TxState.REJECTED, "rejected by an officer"),
]


def signing_url(tx_id: int) -> str:
    """The multisig signing page of a transaction (the one page where officers sign with their wallet)."""
    return reverse("multisig:sign", args=[tx_id])


# --- cases ----------------------------------------------------------------------------------

class CaseEvidenceSerializer(serializers.ModelSerializer):
    file_name = serializers.SerializerMethodField(help_text="The uploaded file's own name.")
    download_url = serializers.SerializerMethodField(help_text="Where officers and managers download the file.")
    uploaded_by = serializers.CharField(source="uploaded_by.username", read_only=True)

    class Meta:
        model = CaseEvidence
        fields = ["id", "file_name", "sha256", "description", "download_url", "uploaded_by", "uploaded_at"]
        read_only_fields = fields

    def get_file_name(self, evidence: CaseEvidence) -> str:
        return evidence.file_name or evidence.file.name.rsplit("/", 1)[-1]

    def get_download_url(self, evidence: CaseEvidence) -> str:
        return reverse("compliance:evidence", args=[evidence.pk])


class ComplianceTransactionSerializer(serializers.ModelSerializer):
    """The compliance multisig transaction behind a proposal; its state is the proposal's `status`."""

    reference = serializers.SerializerMethodField(help_text="Its one public number: its proposal's, e.g. CMP-0002.")
    status_label = serializers.CharField(read_only=True, help_text='Its state in words, e.g. "Awaiting 2 more '
                                                                   'approvals", "Executed in block 1234".')
    signatures_count = serializers.SerializerMethodField()
    signed_by = serializers.SerializerMethodField(help_text="Usernames of the officers who signed, in order.")
    signing_url = serializers.SerializerMethodField(help_text="The signing page of this transaction.")
    url = serializers.SerializerMethodField(help_text="This transaction in /api/multisig/transactions/: its "
                                                      "typed data, signatures, cancel and reject are there.")

    class Meta:
        model = MultisigTransaction
        fields = ["id", "reference", "status_label", "url", "nonce", "safe_address", "safe_tx_hash", "threshold",
                  "signatures_count", "signed_by",
                  "signing_url", "relayer_tx_hash", "block_number", "executed_at", "failure_reason", "cancel_reason"]
        read_only_fields = fields

    def _confirmations(self, tx: MultisigTransaction) -> list[Any]:
        return list(tx.confirmations.all())  # prefetched by the view: no query per row

    def get_reference(self, tx: MultisigTransaction) -> str:
        # Always a proposal's own transaction here, reached from the proposal: no query per row.
        try:
            return str(tx.compliance_proposal.reference)
        except ComplianceProposal.DoesNotExist:
            return str(tx.reference)

    def get_signatures_count(self, tx: MultisigTransaction) -> int:
        return len(self._confirmations(tx))

    def get_signed_by(self, tx: MultisigTransaction) -> list[str]:
        return [c.signer.user.get_username() for c in self._confirmations(tx)]

    def get_signing_url(self, tx: MultisigTransaction) -> str:
        return signing_url(tx.pk)

    def get_url(self, tx: MultisigTransaction) -> str:
        return transaction_api_url(tx.pk)


class ComplianceProposalSerializer(serializers.ModelSerializer):
    action = serializers.CharField(read_only=True, help_text="The registered compliance action: blacklist, "
                                                             "unblacklist, destroy_funds, ...")
    status = serializers.ChoiceField(choices=PROPOSAL_STATUS_CHOICES, read_only=True,
                                     help_text="The state of the proposal's multisig transaction.")
    balance_confirmed = BaseUnitsField(read_only=True, allow_null=True,
                                                 help_text="Destroy funds: the balance typed by the proposer.")
    balance_confirmed_tokens = TokensField(source="balance_confirmed", read_only=True, allow_null=True)
    reference = serializers.CharField(read_only=True, help_text="The proposal's one public number, e.g. CMP-0002.")
    status_label = serializers.CharField(read_only=True, help_text='Its state in words, e.g. "Awaiting 2 more '
                                                                   'approvals", "Executed in block 1234".')
    transaction = ComplianceTransactionSerializer(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)

    class Meta:
        model = ComplianceProposal
        fields = ["id", "reference", "case", "action", "address", "status", "status_label",
                  "balance_confirmed", "balance_confirmed_tokens",
                  "transaction", "created_by", "created_at"]
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    category = serializers.ChoiceField(choices=CaseCategory.choices, read_only=True)
    state = serializers.ChoiceField(choices=CaseState.choices, read_only=True)
    opened_by = serializers.CharField(source="opened_by.username", read_only=True)
    evidence = CaseEvidenceSerializer(many=True, read_only=True)
    proposals = ComplianceProposalSerializer(many=True, read_only=True)

    class Meta:
        model = Case
        fields = ["id", "address", "category", "reference", "description", "state", "opened_by", "opened_at",
                  "closed_reason", "evidence", "proposals"]
        read_only_fields = fields


class CaseOpenSerializer(serializers.Serializer):
    address = serializers.CharField(max_length=100, help_text="The EIP-55 checksummed address the case is about.")
    category = serializers.ChoiceField(choices=CaseCategory.choices)
    reference = serializers.CharField(max_length=100, help_text="e.g. the court order's number or the list's name.")
    description = serializers.CharField(max_length=10_000)


class EvidenceUploadSerializer(serializers.Serializer):
    file = UploadSerializerField(kind=EVIDENCE, help_text="The evidence; its SHA-256 is kept with the case.")
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


# --- proposals ------------------------------------------------------------------------------

class ComplianceProposalCreateSerializer(serializers.Serializer):
    """`action` names a registered compliance action (compliance/actions.py); the other inputs are the
    fields the actions declare (destroy_funds: `confirm_amount`, the balance typed exactly)."""

    case = serializers.PrimaryKeyRelatedField(queryset=Case.objects.all())

    def get_fields(self) -> dict[str, serializers.Field]:
        actions = actions_of(MultisigRole.COMPLIANCE)
        fields: dict[str, serializers.Field] = {
            **super().get_fields(), "action": serializers.ChoiceField(choices=[(a.name, a.label) for a in actions])}
        for action in actions:
            for field in action.fields:
                # Tokens are the only kind a compliance action takes today; a new kind gets its input here.
                fields.setdefault(field.name, DecimalStringField(
                    required=False, allow_null=True,
                    help_text=f"{action.name}: {field.help_text} In tokens, as a string (e.g. \"5000\", or as the "
                              "case page shows it, \"5,000.000000\"). Anything else is refused and nothing is stored."))
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # Only the shape: without it the service would be handed None and answer "'None' is not a number".
        action = action_find(attrs["action"], role=MultisigRole.COMPLIANCE)
        for field in action.fields if action else ():
            if field.required and attrs.get(field.name) is None:
                raise serializers.ValidationError({field.name: field.required_message})
        return attrs


# --- the register ---------------------------------------------------------------------------

class FrozenAddressSerializer(serializers.ModelSerializer):
    mismatch = serializers.BooleanField(read_only=True, help_text="The chain disagrees with what our executed "
                                                                  "transactions lead us to expect.")
    balance = BaseUnitsField(read_only=True, allow_null=True, help_text="As last read from chain.")
    balance_tokens = TokensField(source="balance", read_only=True, allow_null=True)
    last_transaction = serializers.SerializerMethodField(help_text="The signing page of the last executed "
                                                                   "compliance transaction on this address.")

    class Meta:
        model = FrozenAddress
        fields = ["id", "address", "case", "expected_blacklisted", "on_chain_blacklisted", "mismatch", "balance",
                  "balance_tokens", "last_transaction", "checked_at", "checked_block"]
        read_only_fields = fields

    def get_last_transaction(self, entry: FrozenAddress) -> str | None:
        return signing_url(entry.last_transaction_id) if entry.last_transaction_id else None


class RegisterRefreshSerializer(serializers.Serializer):
    refreshed = serializers.IntegerField(help_text="Addresses read again from chain.")
    mismatches = serializers.ListField(child=serializers.CharField(),
                                       help_text="Addresses whose on-chain status disagrees with the register.")
