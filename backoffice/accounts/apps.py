from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "backoffice.accounts"
    label = "accounts"
    verbose_name = "Roles and demo users"

    def ready(self) -> None:
        from . import admin_throttle, admin_tokens  # noqa: F401 - register the login locks' and API tokens' admin
        from .roles import roles_sync_after_migrate

        # Permissions exist only after every app migrated, so roles are synced then, not in a migration;
        # this app is listed last in INSTALLED_APPS so its signal comes after every other app's.
        post_migrate.connect(roles_sync_after_migrate, sender=self, dispatch_uid="accounts.roles_sync")
