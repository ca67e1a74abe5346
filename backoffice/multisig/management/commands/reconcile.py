from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backoffice.chain.client import ChainError, chain_client
from backoffice.multisig.reconciliation import reconciliation_run


class Command(BaseCommand):
    help = ("Reconcile the chain with the back-office's record at the indexed block; new findings raise alerts. "
            "Exits with an error when anything does not reconcile.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report, alerts = reconciliation_run(client=chain_client())
        except ChainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"reconciliation at block {report.block}")
        for check in report.checks:
            mark = self.style.SUCCESS("ok  ") if check.ok else self.style.ERROR("FAIL")
            self.stdout.write(f"  {mark} {check.name}")
            if not check.ok:
                self.stdout.write(f"       expected {check.expected}\n       actual   {check.actual}")
        for event in report.unauthorised_events:
            self.stdout.write(self.style.ERROR(f"  UNAUTHORISED {event['event']} {event['args']} "
                                               f"tx {event['tx_hash']} log {event['log_index']}"))
        if alerts:
            self.stdout.write(f"{len(alerts)} new alert(s) raised")
        if not report.ok:
            raise CommandError("the chain does not reconcile with the back-office's record")
        self.stdout.write(self.style.SUCCESS("everything reconciles"))
