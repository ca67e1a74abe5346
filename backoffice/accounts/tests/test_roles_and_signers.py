import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from backoffice.accounts.roles import Role
from backoffice.accounts.services import DEMO_USERS
from backoffice.chain.devkeys import dev_account
from backoffice.journal.models import JournalEntry
from backoffice.multisig.models import MultisigRole, Signer
from backoffice.multisig.services import signer_bind

pytestmark = pytest.mark.django_db
User = get_user_model()


def test_every_role_is_a_group_and_the_manager_only_reads(roles):
    assert set(Group.objects.values_list("name", flat=True)) >= set(Role.ALL)
    manager_perms = set(Group.objects.get(name=Role.MANAGER).permissions.values_list("codename", flat=True))
    assert "view_journalentry" in manager_perms and "view_multisigtransaction" in manager_perms
    assert all(codename.startswith("view_") for codename in manager_perms)


def test_seed_demo_creates_one_user_per_role_with_signers_and_is_idempotent(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.RELAYER_PRIVATE_KEY_FILE = str(tmp_path / "relayer.key")
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert User.objects.count() == len(DEMO_USERS) == 16
    assert Signer.objects.filter(multisig=MultisigRole.ISSUANCE).count() == 7
    assert Signer.objects.filter(multisig=MultisigRole.COMPLIANCE).count() == 5
    assert Signer.objects.get(user__username="owner1").address == dev_account(1).address
    assert User.objects.get(username="manager").groups.get().name == Role.MANAGER
    assert "PUBLIC test key" in (tmp_path / "relayer.key").read_text()
    logins = (tmp_path / "demo-logins.txt").read_text()
    password = logins.split("\n")[0].split()[1]
    assert User.objects.get(username="owner1").check_password(password)

    journal_count, hashes = JournalEntry.objects.count(), dict(User.objects.values_list("username", "password"))
    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert "nothing changed" in again.getvalue()
    assert JournalEntry.objects.count() == journal_count
    assert dict(User.objects.values_list("username", "password")) == hashes


def test_seed_demo_is_refused_off_a_local_chain(settings):
    from django.core.management.base import CommandError

    settings.CHAIN_IS_LOCAL = False
    with pytest.raises(CommandError, match="PUBLIC test keys"):
        call_command("seed_demo", stdout=io.StringIO())
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "not checksummed"),
        ("0x1234", "not an address"),
    ],
)
def test_binding_a_bad_address_is_refused_and_nothing_changes(address, message):
    user = User.objects.create_user("carol", password="x" * 12)
    with pytest.raises(ValueError, match=message):
        signer_bind(user=user, address=address, multisig=MultisigRole.ISSUANCE, actor=None)
    assert not Signer.objects.exists() and not JournalEntry.objects.filter(action="signer.bound").exists()


def test_an_address_belongs_to_one_user_and_a_user_to_one_address():
    alice, bob = (User.objects.create_user(n, password="x" * 12) for n in ("alice", "bob"))
    signer = signer_bind(user=alice, address=dev_account(1).address, multisig=MultisigRole.ISSUANCE, actor=None)
    assert JournalEntry.objects.filter(action="signer.bound", object_id=str(signer.pk)).count() == 1
    with pytest.raises(ValueError, match="already bound to another user"):
        signer_bind(user=bob, address=dev_account(1).address, multisig=MultisigRole.ISSUANCE, actor=None)
    with pytest.raises(ValueError, match="already bound to"):
        signer_bind(user=alice, address=dev_account(2).address, multisig=MultisigRole.COMPLIANCE, actor=None)
    assert list(Signer.objects.values_list("user__username", "address")) == [("alice", dev_account(1).address)]
    assert JournalEntry.objects.filter(action="signer.bound").count() == 1
    # Binding again to the same address is a no-op, not an error.
    assert signer_bind(user=alice, address=dev_account(1).address, multisig=MultisigRole.ISSUANCE, actor=None) == signer
