from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from backoffice.accounts.services import demo_seed
from backoffice.chain.devkeys import RELAYER_INDEX, dev_account


class Command(BaseCommand):
    help = "Create the demo users (one per role) bound to anvil's PUBLIC test keys. Local chains only."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.CHAIN_IS_LOCAL:
            raise CommandError("seed_demo binds signers to PUBLIC test keys: refused unless CHAIN_IS_LOCAL is on")
        seeded = demo_seed()
        self._relayer_key_write()
        for path in settings.DEMO_SEEDERS:  # each app's demo data, without the kernel importing the apps
            made = import_string(path)()
            if made:
                self.stdout.write(made)
        created = [s for s in seeded if s.password]
        credentials = Path(settings.VAR_DIR) / "demo-logins.txt"
        if created:
            lines = [f"{s.username:<10} {s.password}  ({s.role}{' ' + s.address if s.address else ''})"
                     for s in created]
            credentials.parent.mkdir(parents=True, exist_ok=True)
            with credentials.open("a") as handle:
                handle.write("\n".join(lines) + "\n")
            credentials.chmod(0o600)
            self.stdout.write("Demo users created (passwords shown once, also kept in " f"{credentials}):")
            self.stdout.write("\n".join(lines))
        else:
            self.stdout.write(f"Demo users already exist; nothing changed. Logins: {credentials}")
        self.stdout.write("Second factor: on first login each user is sent to enrolment; add the shown secret to an "
                          "authenticator app (or `oathtool --totp -b <secret>`), type its code, keep the recovery "
                          "codes.")

    def _relayer_key_write(self) -> None:
        path = Path(settings.RELAYER_PRIVATE_KEY_FILE)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"# anvil test account #{RELAYER_INDEX}: a PUBLIC test key, known to everyone; never for real funds\n"
            f"{dev_account(RELAYER_INDEX).key.hex()}\n"
        )
        path.chmod(0o600)
        self.stdout.write(f"Relayer key (public anvil test key) written to {path}")
