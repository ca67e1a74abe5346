from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        # The compliance actions register themselves in the kernel's registry on import.
        from . import actions  # noqa: F401
