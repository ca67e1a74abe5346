"""deploy_chain on a real anvil: what it deploys, that it deploys once, and that it checks the chain id."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from backoffice.chain.client import chain_client, relayer_account
from backoffice.chain.devkeys import OFFICER_INDEXES, OWNER_INDEXES, dev_account
from backoffice.chain.models import Deployment
from backoffice.chain.selectors import deployment_get
from backoffice.journal.models import JournalEntry

pytestmark = pytest.mark.django_db


def test_token_and_both_multisigs_are_deployed_with_their_owners_and_thresholds(chain):
    client, d = chain_client(), deployment_get()
    token = client.contract("USDKG", d.token).functions
    assert token.owner().call() == d.issuance_multisig
    assert token.compliance().call() == d.compliance_multisig
    assert token.decimals().call() == 6
    assert sorted(client.safe_owners(d.issuance_multisig)) == sorted(dev_account(i).address for i in OWNER_INDEXES)
    assert client.safe_threshold(d.issuance_multisig) == 3
    assert sorted(client.safe_owners(d.compliance_multisig)) == sorted(
        dev_account(i).address for i in OFFICER_INDEXES
    )
    assert client.safe_threshold(d.compliance_multisig) == 5
    assert client.safe_nonce(d.issuance_multisig) >= 0
    assert client.contract("SafeL2", d.issuance_multisig).functions.VERSION().call() == "1.4.1"


def test_a_second_run_deploys_nothing_and_says_so(chain):
    client = chain_client()
    before = (list(Deployment.objects.values()), client.account_nonce(relayer_account().address), client.block_number(),
              JournalEntry.objects.count())
    out = io.StringIO()
    call_command("deploy_chain", stdout=out)
    assert "already deployed, nothing changed" in out.getvalue()
    after = (list(Deployment.objects.values()), client.account_nonce(relayer_account().address), client.block_number(),
             JournalEntry.objects.count())
    assert after == before


def test_a_node_of_another_chain_id_is_refused_and_nothing_is_deployed(chain, settings):
    client = chain_client()
    nonce, block = client.account_nonce(relayer_account().address), client.block_number()
    settings.CHAIN_ID = 1
    with pytest.raises(CommandError, match=r"serves chain id 31337, but CHAIN_ID is 1"):
        call_command("deploy_chain", stdout=io.StringIO())
    assert not Deployment.objects.filter(chain_id=1).exists()
    assert (client.account_nonce(relayer_account().address), client.block_number()) == (nonce, block)


def test_a_recorded_deployment_missing_from_the_node_is_refused_without_replace(chain):
    client = chain_client()
    Deployment.objects.update(block_hash="0x" + "ab" * 32)  # as if the node had been reset
    nonce = client.account_nonce(relayer_account().address)
    with pytest.raises(CommandError, match="not on this node any more"):
        call_command("deploy_chain", stdout=io.StringIO())
    assert client.account_nonce(relayer_account().address) == nonce
    assert Deployment.objects.get().block_hash == "0x" + "ab" * 32
