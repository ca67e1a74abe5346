from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backoffice.chain.client import ChainError, chain_client
from backoffice.journal.anchors import journal_anchors_verify
from backoffice.journal.models import AnchorState, JournalAnchor
from backoffice.journal.selectors import journal_verify


class Command(BaseCommand):
    help = ("Walk the journal's hash chain and name the first broken entry; then check every confirmed "
            "anchor against the chain and name every anchored entry that changed, disappeared or moved.")

    def handle(self, *args: Any, **options: Any) -> None:
        check = journal_verify()
        problems = [] if check.ok else [f"journal broken at entry #{check.broken_seq}: {check.problem}"]
        anchors = 0
        # Only the anchors need the node: a journal never anchored is checked without it.
        if JournalAnchor.objects.filter(state=AnchorState.CONFIRMED).exists():
            try:
                anchors, anchor_problems = journal_anchors_verify(client=chain_client())
            except ChainError as exc:
                raise CommandError(f"the anchors cannot be checked: {exc}") from exc
            problems += [p.problem for p in anchor_problems]
        if problems:
            raise CommandError("\n".join(problems))
        self.stdout.write(self.style.SUCCESS(f"journal intact: {check.entries} entries, {anchors} anchors "
                                             "match the chain"))
