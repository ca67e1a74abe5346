from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.chain.client import ChainError, chain_client
from backoffice.journal.anchors import journal_anchor_run
from backoffice.journal.models import AnchorState


class Command(BaseCommand):
    help = "Publish the journal's head on chain now (a transaction from the relayer to itself) and wait for it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the confirmations")
        parser.add_argument("--force", action="store_true",
                            help="anchor even if only anchor entries were added since the last anchor")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            anchor = journal_anchor_run(client=chain_client(), confirmations=settings.CHAIN_CONFIRMATIONS,
                                        wait_seconds=options["wait"], force=options["force"])
        except ChainError as exc:
            raise CommandError(f"the journal was not anchored: {exc}") from exc
        if anchor is None:
            self.stdout.write("nothing new to anchor since the last anchor (use --force to anchor anyway)")
        elif anchor.state == AnchorState.CONFIRMED:
            self.stdout.write(self.style.SUCCESS(
                f"journal entry #{anchor.seq} anchored in block {anchor.block_number}, tx {anchor.tx_hash}"))
        elif anchor.state == AnchorState.FAILED:
            raise CommandError(f"the anchor of entry #{anchor.seq} failed: {anchor.failure_reason}")
        else:
            self.stdout.write(f"journal entry #{anchor.seq} sent in tx {anchor.tx_hash}, not yet confirmed: "
                              "the worker settles it")
