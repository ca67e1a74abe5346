from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backoffice.chain.client import ChainError, chain_client
from backoffice.core.amounts import tokens_format
from issuance.services import reserve_snapshot_take


class Command(BaseCommand):
    help = "Record one point of the reserve-versus-supply history now (beat does it periodically)."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            snapshot = reserve_snapshot_take(client=chain_client())
        except ChainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"reserve snapshot: {snapshot.audited_oz} oz audited, value {snapshot.value_usd} USD, "
                          f"supply {tokens_format(int(snapshot.total_supply))} at block {snapshot.block_number}")
