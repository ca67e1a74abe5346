"""The multisig kinds: how owners consent to a transaction and who may send its execution.

Each kind is one class registered under its `MultisigKind` value; the kernel asks the class of a
transaction's multisig instead of branching on the kind, so a third kind is one more class here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from eth_account import Account
from eth_account.signers.local import LocalAccount

from backoffice.chain.client import ChainClient, ChainError, relayer_account
from backoffice.chain.models import Multisig, MultisigKind
from backoffice.chain.safetx import SafeTx, signatures_pack

if TYPE_CHECKING:
    from .models import MultisigTransaction


@dataclass(frozen=True)
class ExecutionCall:
    """Who sends the execution and with which calldata (to the multisig itself)."""

    account: LocalAccount
    data: bytes


def safe_tx_of(tx: MultisigTransaction) -> SafeTx:
    return SafeTx(to=tx.to, value=int(tx.value), data=bytes(tx.data), operation=tx.operation, nonce=tx.nonce)


def multisig_of(tx: MultisigTransaction) -> Multisig:
    """The recorded multisig a transaction was proposed to."""
    return Multisig.objects.get(chain_id=tx.chain_id, address=tx.safe_address)


def _executor_keys() -> list[LocalAccount]:
    """The keys in MULTISIG_EXECUTOR_KEY_FILE (one per line, `#` comments), read at the moment of use;
    empty when none is configured. ChainError for an unreadable file or a line that is not a key."""
    path_name = settings.MULTISIG_EXECUTOR_KEY_FILE
    if not path_name:
        return []
    path = Path(path_name)
    try:
        lines = [line.strip() for line in path.read_text().splitlines()]
    except OSError as exc:
        raise ChainError(f"executor key file {path} cannot be read") from exc
    accounts: list[LocalAccount] = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        try:
            accounts.append(Account.from_key(line))
        except (ValueError, TypeError) as exc:
            raise ChainError(f"executor key file {path} holds something that is not a private key") from exc
    return accounts


def executor_addresses() -> set[str]:
    """Addresses of the configured executor keys (no signer may be bound to one)."""
    return {a.address for a in _executor_keys()}


def executor_accounts() -> list[LocalAccount]:
    """The executor keys. Refuses (ChainError) an unreadable file, a bad key, and any key whose address
    is bound to a signer: the executor's key must never be a key that approves."""
    from .models import Signer

    accounts = _executor_keys()
    bound = Signer.objects.filter(address__in=[a.address for a in accounts]).select_related("user").first()
    if bound is not None:
        raise ChainError(f"the executor key's address {bound.address} is bound to the signer {bound.user}: the "
                         "back-office never approves with the executor's key; configure the key of an owner "
                         "no user signs with")
    return accounts


class KindBase:
    """What the kernel needs to know of a multisig kind."""

    kind: ClassVar[str]
    # Owners consent by off-chain signatures handed to the server (True) or by on-chain approvals
    # the chain watcher counts (False).
    signs_off_chain: ClassVar[bool]

    def execution_call(self, *, client: ChainClient, tx: MultisigTransaction, multisig: Multisig
                       ) -> ExecutionCall | None:
        """The call the worker sends to execute an approved transaction; None when the worker does
        not execute this kind here (an owner sends it from the signing page)."""
        raise NotImplementedError


class SafeKind(KindBase):
    kind = MultisigKind.SAFE
    signs_off_chain = True

    def execution_call(self, *, client: ChainClient, tx: MultisigTransaction, multisig: Multisig
                       ) -> ExecutionCall | None:
        signatures = signatures_pack({c.owner_address: bytes(c.signature or b"") for c in tx.confirmations.all()})
        data = client.exec_transaction_data(safe=tx.safe_address, tx=safe_tx_of(tx), signatures=signatures)
        return ExecutionCall(account=relayer_account(), data=data)


class UsdkgKind(KindBase):
    kind = MultisigKind.USDKG
    signs_off_chain = False

    def execution_call(self, *, client: ChainClient, tx: MultisigTransaction, multisig: Multisig
                       ) -> ExecutionCall | None:
        # Only an owner may execute: the configured executor whose key is an owner of THIS multisig.
        executor = next((a for a in executor_accounts() if a.address in multisig.owners), None)
        if executor is None:
            return None
        return ExecutionCall(account=executor, data=client.usdkg_exec_data(multisig=tx.safe_address,
                                                                           tx=safe_tx_of(tx)))


KINDS: dict[str, KindBase] = {k.kind: k for k in (SafeKind(), UsdkgKind())}


def kind_of(multisig: Multisig) -> KindBase:
    return KINDS[multisig.kind]


def onchain_kinds() -> list[str]:
    """The kinds whose owners approve on chain (counted by the watcher)."""
    return [name for name, kind in KINDS.items() if not kind.signs_off_chain]
