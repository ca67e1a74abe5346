"""Development and tests: set the development XAU/USD aggregator's answer, then read the feed as the
worker does. Production reads a real feed (GOLD_PRICE_FEED_ADDRESS), which nobody here can set."""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from backoffice.chain.client import ChainError, chain_client, relayer_account
from backoffice.chain.selectors import deployment_get
from backoffice.chain.services import gold_feed_dev_set
from issuance.services import gold_price_feed_read

FEED_DECIMALS = 8  # as Chainlink's XAU/USD


class Command(BaseCommand):
    help = "Set the development gold price feed (USD per troy ounce) and record the reading."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--usd-per-oz", required=True, help="e.g. 2650.12")
        parser.add_argument("--age-seconds", type=int, default=0,
                            help="how long ago the feed says it observed the price (default: now)")
        parser.add_argument("--no-read", action="store_true", help="set the feed only; the worker reads it later")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.GOLD_PRICE_FEED_ADDRESS:
            raise CommandError("GOLD_PRICE_FEED_ADDRESS names a real feed: only the development feed can be set")
        try:
            price = Decimal(options["usd_per_oz"])
        except InvalidOperation as exc:
            raise CommandError(f"--usd-per-oz: {options['usd_per_oz']!r} is not a number") from exc
        if not price.is_finite() or price.as_tuple().exponent < -FEED_DECIMALS:  # type: ignore[operator]
            raise CommandError(f"--usd-per-oz: {price} is not a number with at most {FEED_DECIMALS} decimals")
        client = chain_client()
        try:
            address = deployment_get().gold_price_feed
            if not address:
                raise CommandError("this chain has no development gold price feed: run deploy_chain")
            updated_at = int(timezone.now().timestamp()) - options["age_seconds"]
            gold_feed_dev_set(client=client, account=relayer_account(), address=address,
                              answer=int(price.scaleb(FEED_DECIMALS)), updated_at=updated_at)
            self.stdout.write(f"feed {address}: {price} USD/oz")
            if not options["no_read"]:
                entry = gold_price_feed_read(client=client)
                verdict = entry.get_state_display() + (f": {entry.reason}" if entry.reason else "")
                self.stdout.write(f"reading recorded: {entry.usd_per_oz} USD/oz, {verdict}")
        except ChainError as exc:
            raise CommandError(str(exc)) from exc
