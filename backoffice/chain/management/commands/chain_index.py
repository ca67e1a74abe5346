from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.chain.client import ChainError, chain_client
from backoffice.chain.watcher import chain_index_step


def progress_bar(*, done: int, total: int, label: str, width: int = 30) -> str:
    """`[#########.....]  62 % label`: one line per batch, so logs and terminals both read it."""
    share = 1.0 if total <= 0 else min(1.0, max(0.0, done / total))
    filled = int(round(share * width))
    return f"[{'#' * filled}{'.' * (width - filled)}] {int(share * 100):3d} % {label}"


class Command(BaseCommand):
    help = "Index the logs of the token and both multisigs: one batch, or every batch up to the head."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--until-head", action="store_true",
                            help="keep indexing batches until the confirmed head is reached")
        parser.add_argument("--batch-blocks", type=int, default=settings.CHAIN_INDEX_BATCH_BLOCKS,
                            help="blocks per batch (default CHAIN_INDEX_BATCH_BLOCKS)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_blocks"] < 1:
            raise CommandError("--batch-blocks must be at least 1")
        client = chain_client()
        first, events = None, 0
        while True:
            try:
                progress = chain_index_step(client=client, max_blocks=options["batch_blocks"])
            except ChainError as exc:
                raise CommandError(str(exc)) from exc
            if first is None:
                first = progress.from_block
            if progress.rewound_from is not None:
                self.stdout.write(self.style.WARNING(
                    f"reorg: block {progress.rewound_from} is no longer canonical, rewound to {progress.rewound_to}"))
            confirmed = progress.head - (settings.CHAIN_CONFIRMATIONS - 1)
            if progress.indexed:
                events += progress.events
                self.stdout.write(progress_bar(done=progress.to_block - first + 1, total=confirmed - first + 1,
                                               label=f"block {progress.to_block} of {confirmed}, {events} events"))
            # A step that did nothing below the head (the chain moved under its read, or another run
            # took the batch) is simply run again.
            if not options["until_head"] or progress.to_block >= confirmed:
                break
        self.stdout.write(self.style.SUCCESS(f"indexed up to block {max(progress.to_block, progress.from_block - 1)}"))
