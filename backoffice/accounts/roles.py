"""The six roles as Django groups, each with exactly the model permissions it needs."""

from __future__ import annotations

from typing import Any

from django.apps import apps as django_apps
from django.contrib.auth.models import AnonymousUser, Group, Permission, User
from django.db import connections, transaction


class Role:
    OWNER = "owner"
    COMPLIANCE_OFFICER = "compliance_officer"
    OPERATOR = "operator"
    CUSTODIAN = "custodian"
    AUDITOR = "auditor"
    MANAGER = "manager"
    ALL = (OWNER, COMPLIANCE_OFFICER, OPERATOR, CUSTODIAN, AUDITOR, MANAGER)


def user_is_manager(user: User | AnonymousUser) -> bool:
    """A manager (or a superuser): who may read the reconciliation and the history pages."""
    return bool(user.is_authenticated and (user.is_superuser or user.groups.filter(name=Role.MANAGER).exists()))


# Apps whose every model the manager may read (and nothing else may be done by a manager).
MANAGER_READS_APPS = ("journal", "chain", "multisig", "issuance", "compliance", "auth")  # never accounts: tokens act
_MULTISIG_READ = ["multisig.view_multisigtransaction", "multisig.view_confirmation", "multisig.view_signer",
                  "chain.view_deployment"]

_GOLD_READ = ["issuance.view_vault", "issuance.view_deposit", "issuance.view_bar", "issuance.view_audit",
              "issuance.view_auditcount", "issuance.view_discrepancy", "issuance.view_goldprice",
              "issuance.view_reservesnapshot", "issuance.view_barlistimport", "issuance.view_ownerproposal",
              "issuance.view_proposalbacking"]

# "app_label.codename"; a permission of a model not built yet is skipped until it exists.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.OWNER: [*_MULTISIG_READ, *_GOLD_READ],
    Role.COMPLIANCE_OFFICER: [*_MULTISIG_READ, "compliance.act_compliance", "compliance.view_case",
                              "compliance.view_caseevidence", "compliance.view_complianceproposal",
                              "compliance.view_frozenaddress", "compliance.view_screeningimport",
                              "compliance.view_screeningentry"],
    Role.OPERATOR: [*_MULTISIG_READ, *_GOLD_READ, "issuance.add_deposit", "issuance.add_audit",
                    "issuance.add_goldprice", "issuance.propose_ownerproposal"],
    Role.CUSTODIAN: ["chain.view_deployment", *_GOLD_READ, "issuance.receive_deposit", "issuance.verify_deposit",
                     "issuance.reject_deposit", "issuance.release_deposit"],
    Role.AUDITOR: ["chain.view_deployment", *_GOLD_READ, "issuance.conduct_audit"],
    Role.MANAGER: [],  # filled from MANAGER_READS_APPS
}


def _permissions(role: str) -> list[Permission]:
    wanted = list(ROLE_PERMISSIONS[role])
    if role == Role.MANAGER:
        for model in django_apps.get_models():
            if model._meta.app_label in MANAGER_READS_APPS:
                wanted.append(f"{model._meta.app_label}.view_{model._meta.model_name}")
    found = []
    for label in wanted:
        app_label, codename = label.split(".", 1)
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            found.append(permission)
    return found


def roles_sync() -> None:
    """Create the groups and set their permissions to exactly what ROLE_PERMISSIONS says."""
    with transaction.atomic():
        for role in Role.ALL:
            group, _ = Group.objects.get_or_create(name=role)
            group.permissions.set(_permissions(role))


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    # Django sends post_migrate for every app with models after any migrate, even `migrate core` on a
    # fresh database, where the auth tables may not exist yet: the roles are synced once they do.
    using = kwargs.get("using", "default")
    if using == "default" and Group._meta.db_table in connections[using].introspection.table_names():
        roles_sync()
