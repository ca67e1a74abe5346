"""The reserve and the headroom, exact to the base unit, against a real on-chain supply."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from backoffice.accounts.roles import Role
from backoffice.chain.client import chain_client
from backoffice.chain.devkeys import dev_account
from backoffice.chain.selectors import deployment_get
from backoffice.multisig.models import MultisigRole
from backoffice.multisig.services import multisig_transaction_propose
from issuance import services
from issuance.models import GoldPrice
from issuance.selectors import headroom_compute, reserve_get

from .factories import VaultFactory, audit_submitted, bar_csv, deposit_verified, issue_on_chain, user_with_role

pytestmark = pytest.mark.django_db

A = [("A100", "400.000", "999.9", ""), ("A101", "401.250", "999.5", ""), ("A102", "399.800", "995.0", "397.800")]
B = [("B1", "400.000", "999.9", ""), ("B2", "350.125", "999.0", "")]


@pytest.mark.integration
def test_headroom_is_exact_with_deposits_audits_a_dispute_prices_and_supply(chain, settings):
    # Far below production's ratio, so the cap (about 350 million USDKG) stays above whatever earlier tests
    # issued on the session's chain: at 1.10 it is 3.5 million, which a few earlier issues use up, and a
    # headroom floored at zero would prove nothing. The arithmetic is what is exact here, whatever the ratio.
    settings.COLLATERAL_RATIO = Decimal("0.011")
    users = get_user_model().objects
    operator, custodian, auditor = (users.get(username=n) for n in ("operator", "custodian", "auditor"))
    vault = VaultFactory(name="London")
    client, token = chain_client(), deployment_get().token

    deposit_verified(operator=operator, custodian=custodian, vault=vault, reference="R-A", csv=bar_csv(A))
    deposit_verified(operator=operator, custodian=custodian, vault=vault, reference="R-B", csv=bar_csv(B))
    first = audit_submitted(operator=operator, auditor=auditor, vault=vault, counts_csv=bar_csv(A + B))
    services.audit_accept(audit_id=first.pk, actor=auditor)
    # A later count finds B2 lighter: the dispute takes B2 (349.774 oz) out of the reserve.
    recount = audit_submitted(operator=operator, auditor=auditor, vault=vault,
                              counts_csv=bar_csv(A + [B[0], ("B2", "350.000", "999.0", "")]))
    services.audit_dispute(audit_id=recount.pk, reason="B2 weighs 0.125 oz less than booked", actor=auditor)
    # A deposit in custody but not yet audited: pending, not reserve.
    deposit_verified(operator=operator, custodian=custodian, vault=vault, reference="R-C",
                     csv=bar_csv([("C1", "100.000", "999.9", "")], refiner="PAMP"))

    now = timezone.now()
    services.gold_price_record(usd_per_oz="2412.3456", source="LBMA PM", as_of=now - timedelta(hours=1), actor=operator)
    services.gold_price_record(usd_per_oz="2399.0000", source="LBMA AM", as_of=now - timedelta(hours=5), actor=operator)

    supply_before = client.token_total_supply(token)
    issue_on_chain(amount=1_000_000_000_000, recipient=dev_account(16).address)  # 1,000,000 USDKG
    queued = multisig_transaction_propose(
        client=client, multisig=MultisigRole.ISSUANCE, to=token,
        data=client.token_calldata("issue", dev_account(16).address, 250_000_123_456),
        decoded={"function": "issue", "to": dev_account(16).address, "amount": "250000123456"}, actor=operator,
    )

    reserve = reserve_get(client=client)
    assert reserve.audited_oz == Decimal("1598.769")  # 399.960 + 401.049 + 397.800 + 399.960
    assert reserve.pending_oz == Decimal("449.764")  # B2 349.774 (disputed) + C1 99.990 (not audited)
    assert reserve.price is not None and reserve.price.usd_per_oz == Decimal("2412.3456")
    assert reserve.value_usd == Decimal("3856783.36256640")
    assert reserve.total_supply == supply_before + 1_000_000_000_000
    assert reserve.pending_issue == 250_000_123_456 and queued.state == "awaiting_signatures"
    # floor(3,856,783.3625664 / 0.011 * 10^6) = 350,616,669,324,218 base units may exist in all.
    assert reserve.headroom == 350_616_669_324_218 - reserve.total_supply - 250_000_123_456 > 0


def test_headroom_is_never_negative_and_floors_to_the_base_unit():
    assert headroom_compute(value_usd=Decimal("10"), ratio=Decimal("1"), supply=11_000_000, pending=0) == 0
    assert headroom_compute(value_usd=Decimal("1.0000019"), ratio=Decimal("1"), supply=0, pending=0) == 1_000_001
    assert headroom_compute(value_usd=Decimal("1"), ratio=Decimal("3"), supply=0, pending=0) == 333_333


@pytest.mark.parametrize(
    ("price", "as_of", "message"),
    [
        ("0", timedelta(minutes=-1), "above zero"),
        ("-2400", timedelta(minutes=-1), "above zero"),
        ("abc", timedelta(minutes=-1), "not a number"),
        ("2400.12345", timedelta(minutes=-1), "more than 4 decimals"),
        ("2400", timedelta(minutes=5), "in the future"),
        ("Infinity", timedelta(minutes=-1), "not a number"),
    ],
)
def test_a_bad_gold_price_is_refused_and_nothing_is_saved(roles, price, as_of, message):
    operator = user_with_role(Role.OPERATOR, username="op")
    with pytest.raises(services.InvalidInput, match=message):
        services.gold_price_record(usd_per_oz=price, source="LBMA", as_of=timezone.now() + as_of, actor=operator)
    assert not GoldPrice.objects.exists()


def test_a_price_without_time_zone_or_source_is_refused(roles):
    from datetime import datetime

    operator = user_with_role(Role.OPERATOR, username="op")
    with pytest.raises(services.InvalidInput, match="time zone"):
        services.gold_price_record(usd_per_oz="2400", source="LBMA", as_of=datetime(2026, 1, 1), actor=operator)  # noqa: DTZ001
    with pytest.raises(services.InvalidInput, match="source is required"):
        services.gold_price_record(usd_per_oz="2400", source=" ", as_of=timezone.now(), actor=operator)
    assert not GoldPrice.objects.exists()


@pytest.mark.integration
def test_reserve_snapshot_command_records_the_supply_read_from_chain(chain):
    import io

    from django.core.management import call_command

    from issuance.models import ReserveSnapshot

    out = io.StringIO()
    call_command("reserve_snapshot", stdout=out)
    snapshot = ReserveSnapshot.objects.get()
    assert snapshot.total_supply == chain_client().token_total_supply(deployment_get().token,
                                                                       block=snapshot.block_number)
    assert "reserve snapshot:" in out.getvalue()
