from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backoffice.journal.selectors import journal_verify


class Command(BaseCommand):
    help = "Walk the journal's hash chain and name the first broken entry."

    def handle(self, *args: Any, **options: Any) -> None:
        check = journal_verify()
        if not check.ok:
            raise CommandError(f"journal broken at entry #{check.broken_seq}: {check.problem}")
        self.stdout.write(self.style.SUCCESS(f"journal intact: {check.entries} entries"))
