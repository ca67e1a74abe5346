"""Deploying the token and both multisigs, from the committed and the published artifacts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from backoffice.journal.services import journal_record

from .client import ChainClient, ChainError
from .models import Deployment
from .safetx import ZERO_ADDRESS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeploymentResult:
    deployment: Deployment
    created: bool


def _owners_check(owners: Sequence[str], expected: int, label: str) -> list[str]:
    checked: list[str] = [to_checksum_address(o) for o in owners]
    if len(checked) != expected or len(set(checked)) != expected:
        raise ChainError(f"the {label} multisig needs {expected} distinct signer addresses, {len(set(checked))} given")
    return checked


def _safe_create(
    client: ChainClient, *, account: LocalAccount, factory: str, singleton: str, handler: str,
    owners: list[str], threshold: int, salt: int,
) -> str:
    setup = client.contract("SafeL2", singleton).encode_abi(
        "setup", args=[owners, threshold, ZERO_ADDRESS, b"", handler, ZERO_ADDRESS, 0, ZERO_ADDRESS]
    )
    call = client.contract("SafeProxyFactory", factory).functions.createProxyWithNonce(singleton, setup, salt)
    receipt = client.transact(account=account, tx={"to": factory, "data": call._encode_transaction_data()})
    created = client.events(contract_name="SafeProxyFactory", address=factory, event="ProxyCreation", receipt=receipt)
    if len(created) != 1:
        raise ChainError("the proxy factory did not report exactly one new multisig")
    return to_checksum_address(created[0]["proxy"])


def deployment_ensure(
    *,
    client: ChainClient,
    account: LocalAccount,
    issuance_owners: Sequence[str],
    compliance_owners: Sequence[str],
    replace: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> DeploymentResult:
    """Deploy the token and both multisigs once per chain and record where they are.

    Refuses a node whose chain id is not CHAIN_ID (nothing sent). A second call finds the recorded
    deployment still on chain and deploys nothing. A recorded deployment whose code is gone (the
    node was reset) is refused unless `replace` is given, so a stale record is never silently kept.
    """
    chain_id = client.chain_id_check()
    owners = _owners_check(issuance_owners, settings.ISSUANCE_MULTISIG_OWNERS, "issuance")
    officers = _owners_check(compliance_owners, settings.COMPLIANCE_MULTISIG_OWNERS, "compliance")
    if set(owners) & set(officers):
        raise ChainError("an address cannot sign for both multisigs")

    existing = Deployment.objects.filter(chain_id=chain_id).first()
    if existing is not None:
        if client.code_exists(existing.token) and client.block_hash(existing.block_number) == existing.block_hash:
            return DeploymentResult(existing, created=False)
        if not replace:
            raise ChainError(
                f"the deployment recorded for chain id {chain_id} (token {existing.token}) is not on this node "
                "any more (the node was reset?): run deploy_chain --replace to deploy afresh"
            )

    progress("deploying the Safe v1.4.1 singleton, proxy factory and fallback handler")
    singleton, _ = client.deploy(account=account, name="SafeL2", args=[])
    factory, _ = client.deploy(account=account, name="SafeProxyFactory", args=[])
    handler, _ = client.deploy(account=account, name="CompatibilityFallbackHandler", args=[])
    progress(f"creating the issuance multisig ({settings.ISSUANCE_MULTISIG_THRESHOLD} of {len(owners)})")
    issuance = _safe_create(client, account=account, factory=factory, singleton=singleton, handler=handler,
                            owners=owners, threshold=settings.ISSUANCE_MULTISIG_THRESHOLD, salt=1)
    progress(f"creating the compliance multisig ({settings.COMPLIANCE_MULTISIG_THRESHOLD} of {len(officers)})")
    compliance = _safe_create(client, account=account, factory=factory, singleton=singleton, handler=handler,
                              owners=officers, threshold=settings.COMPLIANCE_MULTISIG_THRESHOLD, salt=2)
    progress("deploying the USDKG token")
    token, receipt = client.deploy(account=account, name="USDKG", args=[issuance, compliance])

    values = {
        "token": token, "issuance_multisig": issuance, "compliance_multisig": compliance,
        "safe_singleton": singleton, "safe_proxy_factory": factory, "safe_fallback_handler": handler,
        "block_number": int(receipt["blockNumber"]), "block_hash": "0x" + bytes(receipt["blockHash"]).hex(),
        "deployed_at": timezone.now(),
    }
    with transaction.atomic():
        deployment, _ = Deployment.objects.select_for_update().update_or_create(chain_id=chain_id, defaults=values)
        journal_record(
            action="chain.deployed", obj=deployment, actor_username="deploy_chain",
            data={"chain_id": chain_id, **{k: v for k, v in values.items() if k != "deployed_at"},
                  "issuance_owners": owners, "compliance_owners": officers, "replaced": existing is not None},
        )
    logger.info("chain deployed chain-id=%s token=%s issuance=%s compliance=%s", chain_id, token, issuance, compliance)
    return DeploymentResult(deployment, created=True)
