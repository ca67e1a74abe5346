from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.accounts.services import signer_addresses
from backoffice.chain.client import ChainError, chain_client, relayer_account
from backoffice.chain.services import deployment_ensure
from backoffice.multisig.models import Multisig


class Command(BaseCommand):
    help = "Deploy the token and both multisigs on the configured node, once; record where they are."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--replace", action="store_true",
                            help="deploy afresh when the recorded deployment is no longer on the node")

    def handle(self, *args: Any, **options: Any) -> None:
        client = chain_client()
        try:
            result = deployment_ensure(
                client=client,
                account=relayer_account(),
                issuance_owners=signer_addresses(Multisig.ISSUANCE),
                compliance_owners=signer_addresses(Multisig.COMPLIANCE),
                replace=options["replace"],
                progress=self.stdout.write,
            )
        except ChainError as exc:
            raise CommandError(str(exc)) from exc
        d = result.deployment
        verb = "deployed" if result.created else "already deployed, nothing changed"
        self.stdout.write(self.style.SUCCESS(f"chain {d.chain_id}: {verb}"))
        self.stdout.write(f"  token               {d.token}\n  issuance multisig   {d.issuance_multisig}\n"
                          f"  compliance multisig {d.compliance_multisig}\n  from block          {d.block_number}")
