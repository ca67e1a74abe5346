from django.apps import AppConfig


class JournalConfig(AppConfig):
    name = "backoffice.journal"
    label = "journal"
    verbose_name = "Journal"

    def ready(self) -> None:
        from . import receivers  # noqa: F401 - connects the auth signal receivers
