"""Input parsing and output shapes. Serializers only parse and present: every rule is in the services.

Amounts and weights travel as decimal strings (COERCE_DECIMAL_TO_STRING), never as JSON numbers,
which most clients read as binary floats.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework import serializers

from backoffice.core.api import DecimalStringField
from backoffice.core.files import UploadSerializerField
from issuance.models import Audit, Bar, Deposit, Discrepancy, GoldPrice, Vault
from issuance.models.audits import REPORT
from issuance.models.deposits import RECEIPT
from issuance.models.imports import BAR_LIST


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 time that must carry its time zone; a naive one is refused, never guessed."""

    default_error_messages = {
        "naive": "give the time with its time zone, e.g. 2025-01-31T16:00:00Z or +02:00",
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


# --- deposits -------------------------------------------------------------------------------

class DepositSerializer(serializers.ModelSerializer):
    vault_name = serializers.CharField(source="vault.name", read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    # Annotated by the view's queryset, so a page of deposits costs one query.
    bars_count = serializers.IntegerField(read_only=True)
    fine_oz_total = serializers.DecimalField(max_digits=16, decimal_places=3, read_only=True)

    class Meta:
        model = Deposit
        fields = ["id", "reference", "depositor", "vault", "vault_name", "state", "bars_count", "fine_oz_total",
                  "receipt_name", "receipt_sha256", "created_by", "created_at", "received_at", "verified_at",
                  "audited_at", "rejection_reason"]
        read_only_fields = fields


class DepositCreateSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=50)
    depositor = serializers.CharField(max_length=200)
    vault = serializers.PrimaryKeyRelatedField(queryset=Vault.objects.all())


class BarSerializer(serializers.ModelSerializer):
    is_audited = serializers.BooleanField(read_only=True)

    class Meta:
        model = Bar
        fields = ["id", "serial", "refiner", "year", "gross_oz", "fineness", "fine_oz", "is_audited"]
        read_only_fields = fields


class BarListUploadSerializer(serializers.Serializer):
    file = UploadSerializerField(kind=BAR_LIST, help_text="The bar list as CSV (LBMA column names), UTF-8.")


class ReceiptUploadSerializer(serializers.Serializer):
    receipt = UploadSerializerField(kind=RECEIPT, help_text="The custodian's signed receipt; kept with its SHA-256.")


# --- audits ---------------------------------------------------------------------------------

class DiscrepancySerializer(serializers.ModelSerializer):
    class Meta:
        model = Discrepancy
        fields = ["kind", "bar", "refiner", "serial", "expected", "counted"]
        read_only_fields = fields


class AuditSerializer(serializers.ModelSerializer):
    vault_name = serializers.CharField(source="vault.name", read_only=True)
    auditor_username = serializers.CharField(source="auditor.username", read_only=True)
    counts_count = serializers.IntegerField(read_only=True)  # annotated by the view's queryset
    discrepancies = DiscrepancySerializer(many=True, read_only=True)

    class Meta:
        model = Audit
        fields = ["id", "vault", "vault_name", "as_of", "auditor", "auditor_username", "firm", "state",
                  "counts_count", "discrepancies", "report_name", "report_sha256", "created_at", "submitted_at",
                  "concluded_at", "dispute_reason"]
        read_only_fields = fields


class AuditPlanSerializer(serializers.Serializer):
    vault = serializers.PrimaryKeyRelatedField(queryset=Vault.objects.all())
    as_of = serializers.DateField()
    auditor = serializers.PrimaryKeyRelatedField(queryset=get_user_model().objects.filter(is_active=True),
                                                 help_text="The user id of the auditor who will conduct it.")
    firm = serializers.CharField(max_length=200)


class ReportUploadSerializer(serializers.Serializer):
    report = UploadSerializerField(kind=REPORT, help_text="The signed audit report; kept with its SHA-256.")


# --- prices ---------------------------------------------------------------------------------

class GoldPriceSerializer(serializers.ModelSerializer):
    entered_by = serializers.CharField(source="entered_by.username", read_only=True)

    class Meta:
        model = GoldPrice
        fields = ["id", "usd_per_oz", "source", "as_of", "state", "origin", "reason", "entered_by", "created_at"]
        read_only_fields = fields


class GoldPriceRecordSerializer(serializers.Serializer):
    usd_per_oz = DecimalStringField(help_text="USD per fine troy ounce, above zero, at most 4 decimals.")
    source = serializers.CharField(max_length=100)  # type: ignore[assignment]  # a field, not Field.source
    as_of = AwareDateTimeField(help_text="When the price was fixed, with its time zone; not in the future.")
