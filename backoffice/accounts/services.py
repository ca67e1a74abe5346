"""Demo users: one per role, signers bound to anvil's PUBLIC test accounts (see chain/devkeys.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from backoffice.chain.devkeys import OFFICER_INDEXES, OWNER_INDEXES, dev_account
from backoffice.journal.services import journal_record
from backoffice.multisig.models import MultisigRole, Signer
from backoffice.multisig.services import signer_bind

from .roles import Role, roles_sync


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    multisig: str = ""
    account_index: int | None = None


DEMO_USERS = [
    *(DemoUser(f"owner{n}", Role.OWNER, MultisigRole.ISSUANCE, i) for n, i in enumerate(OWNER_INDEXES, 1)),
    *(DemoUser(f"officer{n}", Role.COMPLIANCE_OFFICER, MultisigRole.COMPLIANCE, i)
      for n, i in enumerate(OFFICER_INDEXES, 1)),
    DemoUser("operator", Role.OPERATOR),
    DemoUser("custodian", Role.CUSTODIAN),
    DemoUser("auditor", Role.AUDITOR),
    DemoUser("manager", Role.MANAGER),
]


@dataclass(frozen=True)
class SeededUser:
    username: str
    role: str
    address: str
    password: str | None  # only when created now: it is never stored in clear anywhere


def demo_email(username: str) -> str:
    """A demo user's address, in a domain reserved for examples (RFC 2606): the demo's console mail
    backend prints the notifications, nothing can be delivered."""
    return f"{username}@demo.usdkg.example"


def demo_seed(*, password: str | None = None) -> list[SeededUser]:
    """Create the demo users, roles and signer bindings that are missing; touch nothing that exists.

    Passwords are random (or `password`, for tests) and returned only for users created now.
    """
    user_model = get_user_model()
    roles_sync()
    seeded = []
    with transaction.atomic():
        for demo in DEMO_USERS:
            user = user_model.objects.filter(username=demo.username).first()
            new_password = None
            if user is None:
                new_password = password or secrets.token_urlsafe(12)
                user = user_model.objects.create_user(username=demo.username, password=new_password, is_staff=True,
                                                      email=demo_email(demo.username))
                journal_record(action="user.created", obj=user, actor_username="seed_demo",
                               data={"username": demo.username, "role": demo.role})
            elif not user.email:  # seeded before notifications existed: give it the demo address
                user.email = demo_email(demo.username)
                user.save(update_fields=["email"])
            user.groups.add(Group.objects.get(name=demo.role))
            address = ""
            if demo.account_index is not None:
                address = dev_account(demo.account_index).address
                signer_bind(user=user, address=address, multisig=demo.multisig, actor=None)
            seeded.append(SeededUser(demo.username, demo.role, address, new_password))
    return seeded


def signer_addresses(multisig: str) -> list[str]:
    return list(Signer.objects.filter(multisig=multisig).order_by("address").values_list("address", flat=True))
