from django.apps import AppConfig


class IssuanceConfig(AppConfig):
    name = "issuance"
    verbose_name = "Issuance"

    def ready(self) -> None:
        # The owner-proposal actions register themselves in the kernel's registry on import.
        from . import actions  # noqa: F401
