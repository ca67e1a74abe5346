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
from web3 import Web3

from backoffice.journal.services import journal_record

from .client import ChainClient, ChainError
from .models import Deployment, ExecutionPolicy, Multisig, MultisigKind, MultisigRole
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


def _multisig_read(client: ChainClient, *, address: str, kind: str, role: str) -> dict[str, object]:
    """The row values of one multisig, as the chain says now (owners in the contract's order)."""
    return {
        "chain_id": client.chain_id, "address": to_checksum_address(address), "kind": kind, "role": role,
        "owners": client.safe_owners(address), "threshold": client.safe_threshold(address),
        "execution": ExecutionPolicy.RELAYER if kind == MultisigKind.SAFE else ExecutionPolicy.OWNER,
        "recorded_at": timezone.now(),
    }


def _deployment_record(
    *, chain_id: int, values: dict[str, object], multisigs: list[dict[str, object]], action: str, actor: str,
    replaced: bool,
) -> Deployment:
    """Write the deployment and its multisig rows in one transaction (a half-recorded deployment,
    a token without its multisigs, can never be read), journalled."""
    with transaction.atomic():
        deployment, _ = Deployment.objects.select_for_update().update_or_create(chain_id=chain_id, defaults=values)
        deployment.multisigs.all().delete()
        for row in multisigs:
            Multisig.objects.create(deployment=deployment, **row)
        journal_record(
            action=action, obj=deployment, actor_username=actor,
            data={"chain_id": chain_id, **{k: v for k, v in values.items() if k != "deployed_at"},
                  "multisigs": [{k: v for k, v in m.items() if k != "recorded_at"} for m in multisigs],
                  "replaced": replaced},
        )
    return deployment


def deployment_ensure(
    *,
    client: ChainClient,
    account: LocalAccount,
    issuance_owners: Sequence[str],
    compliance_owners: Sequence[str],
    kind: str = MultisigKind.USDKG,
    replace: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> DeploymentResult:
    """Deploy the token and both multisigs (of `kind`) once per chain and record where they are.

    Refuses a node whose chain id is not CHAIN_ID (nothing sent). A second call finds the recorded
    deployment still on chain and deploys nothing. A recorded deployment whose code is gone (the
    node was reset) is refused unless `replace` is given, so a stale record is never silently kept.
    """
    if kind not in MultisigKind.values:
        raise ChainError(f"the multisig kind must be one of {', '.join(MultisigKind.values)}, not {kind!r}")
    chain_id = client.chain_id_check()
    owners = _owners_check(issuance_owners, settings.ISSUANCE_MULTISIG_OWNERS, "issuance")
    officers = _owners_check(compliance_owners, settings.COMPLIANCE_MULTISIG_OWNERS, "compliance")
    if set(owners) & set(officers):
        raise ChainError("an address cannot sign for both multisigs")

    existing = Deployment.objects.filter(chain_id=chain_id).first()
    if existing is not None:
        if client.code_exists(existing.token) and client.block_hash(existing.block_number) == existing.block_hash:
            if not existing.gold_price_feed and not settings.GOLD_PRICE_FEED_ADDRESS:
                _gold_feed_add(client, account=account, deployment=existing, progress=progress)
            return DeploymentResult(existing, created=False)
        if not replace:
            raise ChainError(
                f"the deployment recorded for chain id {chain_id} (token {existing.token}) is not on this node "
                "any more (the node was reset?): run deploy_chain --replace to deploy afresh"
            )

    values: dict[str, object] = {"safe_singleton": "", "safe_proxy_factory": "", "safe_fallback_handler": ""}
    issuance_threshold, compliance_threshold = (settings.ISSUANCE_MULTISIG_THRESHOLD,
                                                settings.COMPLIANCE_MULTISIG_THRESHOLD)
    if kind == MultisigKind.SAFE:
        progress("deploying the Safe v1.4.1 singleton, proxy factory and fallback handler")
        singleton, _ = client.deploy(account=account, name="SafeL2", args=[])
        factory, _ = client.deploy(account=account, name="SafeProxyFactory", args=[])
        handler, _ = client.deploy(account=account, name="CompatibilityFallbackHandler", args=[])
        values = {"safe_singleton": singleton, "safe_proxy_factory": factory, "safe_fallback_handler": handler}
        progress(f"creating the issuance Safe ({issuance_threshold} of {len(owners)})")
        issuance = _safe_create(client, account=account, factory=factory, singleton=singleton, handler=handler,
                                owners=owners, threshold=issuance_threshold, salt=1)
        progress(f"creating the compliance Safe ({compliance_threshold} of {len(officers)})")
        compliance = _safe_create(client, account=account, factory=factory, singleton=singleton, handler=handler,
                                  owners=officers, threshold=compliance_threshold, salt=2)
    else:
        progress(f"deploying the issuance USDKG multisig ({issuance_threshold} of {len(owners)})")
        issuance, _ = client.deploy(account=account, name="USDKGMultisig", args=[owners, issuance_threshold])
        progress(f"deploying the compliance USDKG multisig ({compliance_threshold} of {len(officers)})")
        compliance, _ = client.deploy(account=account, name="USDKGMultisig", args=[officers, compliance_threshold])
    progress("deploying the USDKG token")
    token, receipt = client.deploy(account=account, name="USDKG", args=[issuance, compliance])

    feed = ""
    if not settings.GOLD_PRICE_FEED_ADDRESS:  # a real feed is configured: no stand-in beside it
        progress("deploying the development XAU/USD price feed")
        feed, _ = client.deploy(account=account, name="DevXauUsdAggregator", args=[])
    values.update({
        "gold_price_feed": feed, "token": token, "block_number": int(receipt["blockNumber"]),
        "block_hash": "0x" + bytes(receipt["blockHash"]).hex(), "deployed_at": timezone.now(),
    })
    multisigs = [_multisig_read(client, address=issuance, kind=kind, role=MultisigRole.ISSUANCE),
                 _multisig_read(client, address=compliance, kind=kind, role=MultisigRole.COMPLIANCE)]
    deployment = _deployment_record(chain_id=chain_id, values=values, multisigs=multisigs, action="chain.deployed",
                                    actor="deploy_chain", replaced=existing is not None)
    logger.info("chain deployed chain-id=%s kind=%s token=%s issuance=%s compliance=%s", chain_id, kind, token,
                issuance, compliance)
    return DeploymentResult(deployment, created=True)


def _gold_feed_add(
    client: ChainClient, *, account: LocalAccount, deployment: Deployment, progress: Callable[[str], None],
) -> None:
    """A deployment recorded before the price feed existed gets its development feed, journalled."""
    progress("deploying the development XAU/USD price feed")
    feed, _ = client.deploy(account=account, name="DevXauUsdAggregator", args=[])
    with transaction.atomic():
        Deployment.objects.filter(pk=deployment.pk).update(gold_price_feed=feed)
        deployment.gold_price_feed = feed
        journal_record(action="chain.gold_feed_deployed", obj=deployment, actor_username="deploy_chain",
                       data={"chain_id": deployment.chain_id, "gold_price_feed": feed})


def _first_block(client: ChainClient, address: str) -> int:
    """The block in which `address` got its code (binary search over `eth_getCode` at past blocks):
    the watcher indexes from there. A node that keeps no history for old blocks answers with the
    head's code or an error; either way the search stays within the node's answers."""
    low, high = 0, client.block_number()
    while low < high:
        middle = (low + high) // 2
        try:
            present = client.code_exists(address, block=middle)
        except ChainError:
            present = False
        if present:
            high = middle
        else:
            low = middle + 1
    return low


def deployment_attach(
    *, client: ChainClient, token: str, from_block: int | None = None, replace: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> Deployment:
    """Record a token and its two multisigs that already exist on chain (the production case).

    Reads `owner()` and `compliance()` from the token, detects each multisig's kind by probing its
    interface, reads owners and threshold. Refuses (ChainError, nothing recorded) a node on another
    chain id, an address without code, a contract that is not the token, a multisig of no known
    kind, and a chain that already has a different deployment recorded unless `replace`.
    """
    chain_id = client.chain_id_check()
    if not Web3.is_address(token):
        raise ChainError(f"{token!r} is not an address")
    token = to_checksum_address(token)
    if not client.code_exists(token):
        raise ChainError(f"{token} has no code on chain {chain_id}: not a contract")
    issuance, compliance = client.token_multisigs(token)
    if issuance == compliance:
        raise ChainError(f"the token's owner and compliance are the same address {issuance}")
    multisigs = []
    for role, address in ((MultisigRole.ISSUANCE, issuance), (MultisigRole.COMPLIANCE, compliance)):
        kind = client.multisig_kind_probe(address)
        if not kind:
            raise ChainError(f"the {role} multisig {address} is neither a Safe nor a USDKG multisig "
                             "(no contract there, or an unknown interface)")
        progress(f"{role} multisig {address}: {kind}")
        multisigs.append(_multisig_read(client, address=address, kind=kind, role=role))
    existing = Deployment.objects.filter(chain_id=chain_id).first()
    if existing is not None and existing.token != token and not replace:
        raise ChainError(f"chain id {chain_id} already has token {existing.token} recorded: "
                         "give --replace to record the new one instead")
    block = from_block if from_block is not None else _first_block(client, token)
    values: dict[str, object] = {
        "token": token, "block_number": block, "block_hash": client.block_hash(block), "deployed_at": timezone.now(),
        "safe_singleton": "", "safe_proxy_factory": "", "safe_fallback_handler": "",
    }
    deployment = _deployment_record(chain_id=chain_id, values=values, multisigs=multisigs, action="chain.attached",
                                    actor="chain_attach", replaced=existing is not None)
    logger.info("chain attached chain-id=%s token=%s issuance=%s compliance=%s", chain_id, token, issuance, compliance)
    return deployment


def gold_feed_dev_set(
    *, client: ChainClient, account: LocalAccount, address: str, answer: int, updated_at: int,
) -> int:
    """Set the development XAU/USD aggregator's answer (8 decimals) and its time; the block it landed
    in. Only the account that deployed it may (the contract refuses anyone else)."""
    call = client.contract("DevXauUsdAggregator", address).functions.setAnswer(answer, updated_at)
    receipt = client.transact(account=account, tx={"to": to_checksum_address(address),
                                                   "data": call._encode_transaction_data()})
    logger.info("gold-feed address=%s answer=%s updated-at=%s", address, answer, updated_at)
    return int(receipt["blockNumber"])
