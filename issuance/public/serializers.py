"""The shape of GET /api/reserve/ for the OpenAPI schema; the values come from `figures` as strings."""

from __future__ import annotations

from rest_framework import serializers

DECIMAL = "a decimal number as a string, exact (never a float)"
BASE_UNITS = "an integer in base units as a string (6 decimals: 1000000 = 1 USDKG = 1 USD)"
TOKENS = "tokens as a string with exactly 6 decimals"


class ReserveGoldPriceSerializer(serializers.Serializer):
    usd_per_oz = serializers.CharField(help_text=f"USD per fine troy ounce: {DECIMAL}")
    # Declared fields leave the class attributes (DRF's metaclass), so this does not shadow Field.source.
    source = serializers.CharField()  # type: ignore[assignment]
    as_of = serializers.DateTimeField()


class ReserveAuditSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    vault = serializers.CharField()
    firm = serializers.CharField()
    auditor = serializers.CharField()
    report_sha256 = serializers.CharField(help_text="SHA-256 (hex) of the signed audit report")


class ReserveHistoryPointSerializer(serializers.Serializer):
    taken_at = serializers.DateTimeField()
    block_number = serializers.IntegerField()
    audited_fine_oz = serializers.CharField(help_text=DECIMAL)
    pending_fine_oz = serializers.CharField(help_text=DECIMAL)
    usd_per_oz = serializers.CharField(allow_null=True, help_text=DECIMAL)
    reserve_value_usd = serializers.CharField(help_text=DECIMAL)
    total_supply_base_units = serializers.CharField(help_text=BASE_UNITS)
    total_supply = serializers.CharField(help_text=TOKENS)


class JournalAnchorSerializer(serializers.Serializer):
    seq = serializers.IntegerField(help_text="the journal entry anchored (its number)")
    entry_hash = serializers.CharField(help_text="SHA-256 (hex) of that entry, which covers every entry before it")
    chain_id = serializers.IntegerField()
    sender = serializers.CharField(help_text="the relayer: the transaction is from it to itself")
    tx_hash = serializers.CharField(
        help_text="the anchor transaction; its data reads `usdkg-journal-anchor/1 seq=<seq> sha256=<entry_hash>`")
    block_number = serializers.IntegerField()
    block_hash = serializers.CharField()
    anchored_at = serializers.DateTimeField()


class ReserveSerializer(serializers.Serializer):
    as_of = serializers.DateTimeField(help_text="when the supply was read: by the worker (`read_from` chain), or "
                                                "when the snapshot standing in for it was taken")
    read_from = serializers.ChoiceField(
        choices=["chain", "snapshot"],
        help_text="chain: the worker read the supply at `block_number` at `as_of`; snapshot: nothing fresher was "
                  "published yet (a cold cache), so the last reserve snapshot's supply stands in, with the gold, "
                  "price and pending issues as the books hold them now")
    chain_id = serializers.IntegerField()
    token_address = serializers.CharField(help_text="the token contract, checksummed")
    block_number = serializers.IntegerField(help_text="the block the supply was read at")
    total_supply_base_units = serializers.CharField(help_text=f"totalSupply() on chain: {BASE_UNITS}")
    total_supply = serializers.CharField(help_text=TOKENS)
    audited_fine_oz = serializers.CharField(
        help_text=f"fine troy ounces in custody, counted by an accepted audit and not disputed: {DECIMAL}")
    pending_fine_oz = serializers.CharField(
        help_text=f"fine troy ounces in custody not (yet) backing tokens: unaudited or disputed: {DECIMAL}")
    gold_price = ReserveGoldPriceSerializer(allow_null=True)
    reserve_value_usd = serializers.CharField(help_text=f"audited ounces x price, cut to 6 decimals: {DECIMAL}")
    collateral_ratio = serializers.CharField(
        help_text=f"reserve value required per token issued (1.00 = fully backed): {DECIMAL}")
    coverage_ratio = serializers.CharField(
        allow_null=True, help_text=f"reserve value per token in circulation, null at zero supply: {DECIMAL}")
    pending_issue_base_units = serializers.CharField(help_text=f"approved issues not yet on chain: {BASE_UNITS}")
    headroom_base_units = serializers.CharField(help_text=f"what may still be issued, never negative: {BASE_UNITS}")
    headroom = serializers.CharField(help_text=TOKENS)
    last_accepted_audit = ReserveAuditSerializer(allow_null=True)
    bars_count = serializers.IntegerField(help_text="audited bars backing tokens")
    bars_csv_url = serializers.URLField()
    history = ReserveHistoryPointSerializer(many=True, help_text="up to the last 200 snapshots, oldest first")
    journal_anchor = JournalAnchorSerializer(
        allow_null=True, help_text="the last anchor of the back-office's journal on chain (null before the first)")


class ReserveUnavailableSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="chain_unavailable, or not_yet_published (nothing read yet)")
    detail = serializers.CharField()
