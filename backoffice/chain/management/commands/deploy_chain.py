from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.accounts.services import signer_addresses
from backoffice.chain.client import ChainError, chain_client, relayer_account
from backoffice.chain.models import MultisigKind, MultisigRole
from backoffice.chain.services import deployment_ensure


class Command(BaseCommand):
    help = "Deploy the development token and both multisigs on the configured node, once; record where they are."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--multisig-kind", choices=MultisigKind.values, default=MultisigKind.USDKG,
                            help="usdkg (default: the production shape, owners approve on chain and an owner "
                                 "executes) or safe (Safe v1.4.1, off-chain signatures, a relayer executes)")
        parser.add_argument("--replace", action="store_true",
                            help="deploy afresh when the recorded deployment is no longer on the node")

    def handle(self, *args: Any, **options: Any) -> None:
        client = chain_client()
        try:
            result = deployment_ensure(
                client=client,
                account=relayer_account(),
                issuance_owners=signer_addresses(MultisigRole.ISSUANCE),
                compliance_owners=signer_addresses(MultisigRole.COMPLIANCE),
                kind=options["multisig_kind"],
                replace=options["replace"],
                progress=self.stdout.write,
            )
        except ChainError as exc:
            raise CommandError(str(exc)) from exc
        d = result.deployment
        verb = "deployed" if result.created else "already deployed, nothing changed"
        self.stdout.write(self.style.SUCCESS(f"chain {d.chain_id}: {verb}"))
        self.stdout.write(f"  token               {d.token}")
        for m in d.multisigs.all():
            self.stdout.write(f"  {m.role:<19} {m.address} ({m.kind}, {m.threshold} of {len(m.owners)})")
        if d.gold_price_feed:
            self.stdout.write(f"  gold price feed     {d.gold_price_feed} (development XAU/USD)")
        self.stdout.write(f"  from block          {d.block_number}")
