"""The gold price is governed, not typed: it comes from the XAU/USD feed the worker reads (the development
aggregator on anvil), within bounds (fresh, moving at most GOLD_PRICE_MAX_MOVE_PERCENT), or from a manual
proposal a manager approves. A refused reading is kept with its reason and changes nothing the public
sees; a stale or refused price, a price awaiting its second approval, or a reserve covering less than
the floor refuses issues with the reason."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from backoffice.chain.client import chain_client, relayer_account
from backoffice.chain.selectors import deployment_get
from backoffice.chain.services import gold_feed_dev_set
from backoffice.core.amounts import TOKEN_UNIT
from backoffice.journal.models import JournalEntry
from backoffice.journal.services import TransitionRefused
from backoffice.multisig.models import ReconciliationAlert, TxState
from backoffice.multisig.reconciliation import reconciliation_run
from backoffice.multisig.tests.helpers import chain_index_until_head, consent_and_execute, issue_propose
from issuance import services
from issuance.models import GoldPrice, GoldPriceOrigin, GoldPriceState, OwnerProposal
from issuance.reconciliation import coverage_check
from issuance.selectors import gold_price_latest
from issuance.tasks import gold_price_feed_task

from .factories import issue_on_chain

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

RECIPIENT = "0x000000000000000000000000000000000000dEaD"
AMOUNT = "1000"  # tokens: far within the headroom of gold_backing (about 10.6 million USD)


def _user(name: str) -> Any:
    return get_user_model().objects.get(username=name)


def _feed_set(usd_per_oz: str, *, age: timedelta = timedelta(0)) -> None:
    """The development aggregator answers `usd_per_oz` (8 decimals), observed `age` ago."""
    gold_feed_dev_set(client=chain_client(), account=relayer_account(), address=deployment_get().gold_price_feed,
                      answer=int(Decimal(usd_per_oz).scaleb(8)), updated_at=int((timezone.now() - age).timestamp()))


def _draft(deposit: Any) -> OwnerProposal:
    return services.proposal_draft(client=chain_client(), kind="issue", actor=_user("operator"), amount=AMOUNT,
                                   recipient=RECIPIENT, deposit_ids=[deposit.pk])


def _draft_refused(deposit: Any, *messages: str) -> None:
    """Drafting an issue is refused with every one of `messages` in the reason, and nothing is saved."""
    before = (OwnerProposal.objects.count(), JournalEntry.objects.count())
    with pytest.raises(services.InvalidInput) as refused:
        _draft(deposit)
    for message in messages:
        assert message in str(refused.value), str(refused.value)
    assert (OwnerProposal.objects.count(), JournalEntry.objects.count()) == before


def _public() -> tuple[dict[str, Any], str]:
    """What the public sees: the reserve JSON (less the block it was read at) and the page's price figure."""
    # The public reserve is cached: read it afresh each time. Only its key, never cache.clear(): that empties the
    # whole Redis database, which parallel test processes share.
    key = f"reserve-public:{django_settings.CHAIN_ID}"
    cache.delete(key)
    data = Client().get("/api/reserve/").json()
    data.pop("block_number", None)
    data.pop("generated_at", None)
    cache.delete(key)
    page = Client().get("/reserve/").content.decode()
    start = page.index('id="gold-price"')
    return data, page[start:page.index("</small>", start)]


def test_a_feed_reading_within_bounds_becomes_the_price_in_use(chain: Any, gold_backing: Any) -> None:
    _feed_set("2700.12345678")
    reading = services.gold_price_feed_read(client=chain_client())
    assert (reading.state, reading.origin, reading.usd_per_oz, reading.reason) == (
        GoldPriceState.ACCEPTED, GoldPriceOrigin.FEED, Decimal("2700.1234"), "")  # cut to 4 decimals, never up
    assert gold_price_latest() == reading
    assert JournalEntry.objects.filter(action="issuance.price.feed_accepted", object_id=str(reading.pk)).exists()
    # Reading the same round again records nothing new.
    count = GoldPrice.objects.count()
    assert services.gold_price_feed_read(client=chain_client()) == reading and GoldPrice.objects.count() == count
    assert _draft(gold_backing).amount == int(AMOUNT) * TOKEN_UNIT


def test_a_reading_30_percent_away_is_refused_with_its_reason_blocks_issues_and_the_public_sees_nothing_change(
    chain: Any, gold_backing: Any
) -> None:
    in_use = gold_price_latest()
    assert in_use is not None and in_use.usd_per_oz == Decimal("2650")
    public_before = _public()

    _feed_set("3445")  # +30 %
    reading = services.gold_price_feed_read(client=chain_client())
    assert reading.state == GoldPriceState.REFUSED
    assert "moves +30.00 % from the last accepted 2,650.0000 USD/oz, more than the 10 % allowed" in reading.reason
    entry = JournalEntry.objects.get(action="issuance.price.feed_refused", object_id=str(reading.pk))
    assert entry.reason == reading.reason
    assert gold_price_latest() == in_use
    assert _public() == public_before
    _draft_refused(gold_backing, "latest reading (3,445.0000 USD/oz) was refused", "moves +30.00 %")

    # The admin list shows the refused reading with its reason, to a manager.
    browser = Client()
    browser.force_login(_user("manager"))
    listing = browser.get("/admin/issuance/goldprice/").content.decode()
    assert "Refused (out of bounds)" in listing and "more than the 10 % allowed" in listing

    # A reading back within bounds is accepted, changes what the public sees and lets issues through.
    _feed_set("2700")
    assert services.gold_price_feed_read(client=chain_client()).state == GoldPriceState.ACCEPTED
    assert _public() != public_before
    assert _draft(gold_backing).pk


def test_a_stale_price_blocks_issues_and_a_stale_reading_is_refused(chain: Any, gold_backing: Any, settings: Any
                                                                    ) -> None:
    assert _draft(gold_backing).pk  # fresh: issues may be drafted
    settings.GOLD_PRICE_MAX_AGE_SECONDS = 30  # the accepted price (a minute old) is stale now
    _draft_refused(gold_backing, "the accepted gold price (2,650.0000 USD/oz of", "is stale: older than")

    settings.GOLD_PRICE_MAX_AGE_SECONDS = 24 * 3600
    in_use = gold_price_latest()
    _feed_set("2651", age=timedelta(hours=25))
    reading = services.gold_price_feed_read(client=chain_client())
    assert reading.state == GoldPriceState.REFUSED and "the price is stale" in reading.reason
    assert "more than the 24 h allowed" in reading.reason
    assert gold_price_latest() == in_use
    _draft_refused(gold_backing, "was refused: the price is stale")


def test_a_manual_price_counts_only_once_a_manager_other_than_its_proposer_approves_it(
    chain: Any, gold_backing: Any, settings: Any
) -> None:
    operator, manager = _user("operator"), _user("manager")
    settings.GOLD_PRICE_MAX_AGE_SECONDS = 30  # the fixture's price is stale: issues wait for a new one
    proposed = services.gold_price_propose(usd_per_oz="2,660.50", source="LBMA Gold Price PM",
                                           as_of=timezone.now(), actor=operator)
    assert proposed.state == GoldPriceState.PROPOSED and gold_price_latest() != proposed
    _draft_refused(gold_backing, "is stale", "2,660.5000 USD/oz proposed by operator awaits a second approval")

    # The proposer cannot approve it, nor can any other non-manager; nothing changes.
    journal = JournalEntry.objects.count()
    with pytest.raises(TransitionRefused, match="the proposer of a price cannot decide on it"):
        services.gold_price_approve(price_id=proposed.pk, actor=operator)
    with pytest.raises(TransitionRefused, match="you may not approve"):
        services.gold_price_approve(price_id=proposed.pk, actor=_user("custodian"))
    proposed.refresh_from_db()
    assert proposed.state == GoldPriceState.PROPOSED and JournalEntry.objects.count() == journal

    approved = services.gold_price_approve(price_id=proposed.pk, actor=manager)
    assert (approved.state, approved.decided_by) == (GoldPriceState.ACCEPTED, manager)
    assert gold_price_latest() == approved
    assert JournalEntry.objects.filter(action="issuance.goldprice.approve", object_id=str(approved.pk)).exists()
    assert _draft(gold_backing).pk

    # A rejected proposal never counts, and is kept with the manager's reason.
    other = services.gold_price_propose(usd_per_oz="2670", source="LBMA", as_of=timezone.now(), actor=operator)
    with pytest.raises(services.InvalidInput, match="a reason is required"):
        services.gold_price_reject(price_id=other.pk, reason=" ", actor=manager)
    rejected = services.gold_price_reject(price_id=other.pk, reason="not the fixing of today", actor=manager)
    assert (rejected.state, rejected.reason) == (GoldPriceState.REJECTED, "not the fixing of today")
    assert gold_price_latest() == approved
    with pytest.raises(TransitionRefused):
        services.gold_price_approve(price_id=other.pk, actor=manager)


def test_a_manual_price_proposed_and_approved_in_the_admin(chain: Any, gold_backing: Any) -> None:
    operator_page, manager_page = Client(), Client()
    operator_page.force_login(_user("operator"))
    manager_page.force_login(_user("manager"))
    response = operator_page.post("/admin/issuance/goldprice/add/", {
        "usd_per_oz": "2,655.25", "source": "LBMA Gold Price PM", "as_of_0": timezone.now().strftime("%Y-%m-%d"),
        "as_of_1": timezone.now().strftime("%H:%M:%S")}, follow=True)
    assert "counts once a manager approves it" in response.content.decode()
    proposed = GoldPrice.objects.get(state=GoldPriceState.PROPOSED)
    assert proposed.usd_per_oz == Decimal("2655.25") and gold_price_latest() != proposed

    page = manager_page.get(f"/admin/issuance/goldprice/{proposed.pk}/change/").content.decode()
    assert "Approve price" in page and "Reject price" in page
    manager_page.post(f"/admin/issuance/goldprice/{proposed.pk}/transition/approve/", {"confirmed": "True"})
    proposed.refresh_from_db()
    assert proposed.state == GoldPriceState.ACCEPTED and gold_price_latest() == proposed


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("-2650", "above zero"),
        ("0", "above zero"),
        ("9,999,999,999", "implausibly large"),
        ("1000000", "implausibly large"),
        ("abc", "not a number"),
        ("2650.123456", "more than 4 decimals"),
        ("3445", "moves +30.00 %"),  # within the ceiling, but far from the price in use
        ("2651", "would never be used"),  # observed before the price in use (see as_of below)
    ],
)
def test_bad_manual_input_is_refused_and_nothing_changes(chain: Any, gold_backing: Any, price: str, message: str
                                                         ) -> None:
    browser = Client()
    browser.force_login(_user("operator"))  # (a log-in is journalled: before counting)
    before = (list(GoldPrice.objects.values_list("pk", "state")), JournalEntry.objects.count())
    as_of = timezone.now() - timedelta(minutes=5 if price == "2651" else 0)
    with pytest.raises(services.InvalidInput, match=re.escape(message)):
        services.gold_price_propose(usd_per_oz=price, source="LBMA", as_of=as_of, actor=_user("operator"))
    # The admin form refuses it the same way (the 9,999,999,999 of the incident included).
    response = browser.post("/admin/issuance/goldprice/add/", {
        "usd_per_oz": price, "source": "LBMA", "as_of_0": as_of.strftime("%Y-%m-%d"),
        "as_of_1": as_of.strftime("%H:%M:%S")})
    assert response.status_code == 200 and "errornote" in response.content.decode()
    assert (list(GoldPrice.objects.values_list("pk", "state")), JournalEntry.objects.count()) == before
    assert gold_price_latest().usd_per_oz == Decimal("2650")  # type: ignore[union-attr]


def test_coverage_below_the_floor_raises_a_reconciliation_alert_and_blocks_issues(
    chain: Any, gold_backing: Any, settings: Any
) -> None:
    client = chain_client()
    issue_on_chain(amount=1_000 * TOKEN_UNIT, recipient=RECIPIENT)
    chain_index_until_head()  # the reconciliation reads what the watcher indexed
    block = client.block_number()
    [check] = coverage_check(client=client, block=block)
    assert check.ok
    reconciliation_run(client=client)
    assert not ReconciliationAlert.objects.filter(title__contains="coverage floor").exists()
    coverage = Decimal(check.actual["coverage"])
    settings.GOLD_COVERAGE_FLOOR = coverage + 1  # the same reserve, now below the floor
    [check] = coverage_check(client=client, block=block)
    assert not check.ok and check.expected["coverage_at_least"] == str(coverage + 1)
    reconciliation_run(client=client)
    assert ReconciliationAlert.objects.filter(
        title="Reconciliation check failed: reserve value covers the supply at least at the coverage floor").exists()
    _draft_refused(gold_backing, "of the supply", f"below the floor of {coverage + 1}")


def test_gold_feed_set_sets_the_development_feed_and_records_the_reading(chain: Any, gold_backing: Any) -> None:
    out = StringIO()
    call_command("gold_feed_set", "--usd-per-oz", "2650.12", stdout=out)
    assert "reading recorded: 2650.1200 USD/oz, Accepted" in out.getvalue()
    assert gold_price_latest().usd_per_oz == Decimal("2650.12")  # type: ignore[union-attr]


@pytest.mark.django_db(transaction=True)
def test_the_feed_task_in_a_real_worker_records_the_price(chain: Any, celery_worker: str) -> None:
    _feed_set("2655.5")
    assert not GoldPrice.objects.exists()
    gold_price_feed_task.delay()  # results are not kept: the worker's work is read from the database
    deadline = time.monotonic() + 60
    while not GoldPrice.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    reading = GoldPrice.objects.get(origin=GoldPriceOrigin.FEED)
    assert (reading.usd_per_oz, reading.state, reading.entered_by) == (Decimal("2655.5"), GoldPriceState.ACCEPTED,
                                                                       None)
    assert reading.source == f"feed {deployment_get().gold_price_feed}"


def test_an_issue_already_signed_is_not_sent_while_the_price_is_stale(chain: Any, gold_backing: Any, settings: Any
                                                                      ) -> None:
    """The guard run right before sending refuses too: the owners' consent does not outlive the price."""
    client, token = chain_client(), deployment_get().token
    supply = client.token_total_supply(token)
    tx = issue_propose(1_000 * TOKEN_UNIT, RECIPIENT)
    settings.GOLD_PRICE_MAX_AGE_SECONDS = 30
    settled = consent_and_execute(tx, ["owner1", "owner2", "owner3"])
    assert settled.state != TxState.EXECUTED and "is stale" in settled.failure_reason, settled.failure_reason
    assert client.token_total_supply(token) == supply
