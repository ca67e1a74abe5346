from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.chain.client import ChainError, chain_client
from backoffice.chain.services import deployment_attach


class Command(BaseCommand):
    help = ("Record a USDKG token and its two multisigs that already exist on the configured chain (the "
            "production case): reads owner() and compliance() from the token, detects each multisig's kind, "
            "reads owners and threshold. Records nothing when anything does not fit.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--token", required=True, help="the token's address")
        parser.add_argument("--from-block", type=int, default=None,
                            help="the block the watcher starts from (default: the block that created the token)")
        parser.add_argument("--replace", action="store_true",
                            help="replace another token already recorded for this chain id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            d = deployment_attach(client=chain_client(), token=options["token"], from_block=options["from_block"],
                                  replace=options["replace"], progress=self.stdout.write)
        except ChainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"chain {d.chain_id}: attached"))
        self.stdout.write(f"  token               {d.token}")
        for m in d.multisigs.all():
            self.stdout.write(f"  {m.role:<19} {m.address} ({m.kind}, {m.threshold} of {len(m.owners)}; "
                              f"owners {', '.join(m.owners)})")
        self.stdout.write(f"  from block          {d.block_number}")
