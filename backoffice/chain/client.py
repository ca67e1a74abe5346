"""The one chain client. Every read and write to the node goes through here.

Built from settings by `chain_client()`; tests point the settings at anvil. Connection errors and
timeouts surface as ChainUnavailable, the only error a task may retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import BlockNotFound, ContractLogicError, TransactionNotFound, Web3RPCError
from web3.logs import DISCARD
from web3.types import FilterParams

from .safetx import SafeTx

logger = logging.getLogger(__name__)

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"


class ChainError(Exception):
    """The chain refused or could not do what was asked; the message says why."""


class ChainUnavailable(ChainError):
    """The node did not answer (connection refused, timeout): transient, worth a bounded retry."""


class ChainIdMismatch(ChainError):
    """The node serves another chain than the one configured: nothing may be sent to it."""


@cache
def artifact(name: str) -> dict[str, Any]:
    """ABI and creation bytecode of a contract, from the committed artifacts."""
    data: dict[str, Any] = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())
    return data


def relayer_account() -> LocalAccount:
    """The relayer's key, read from the file named by RELAYER_PRIVATE_KEY_FILE at the moment of use."""
    path = Path(settings.RELAYER_PRIVATE_KEY_FILE)
    try:
        key = path.read_text().strip().splitlines()[-1].strip()
    except (OSError, IndexError) as exc:
        raise ChainError(f"relayer key file {path} cannot be read") from exc
    account: LocalAccount = Account.from_key(key)
    return account


@dataclass(frozen=True)
class SignedTx:
    tx_hash: str
    raw: bytes
    sender: str
    nonce: int


class ChainClient:
    def __init__(self, *, rpc_url: str, chain_id: int, timeout: int = 10) -> None:
        self.rpc_url = rpc_url
        self.chain_id = chain_id
        self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))

    # --- connection -------------------------------------------------------------------------
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (requests.ConnectionError, requests.Timeout, requests.HTTPError) as exc:
            # The URL may carry a provider's key: name only the kind of failure, never the address.
            raise ChainUnavailable(f"the chain node does not answer ({type(exc).__name__})") from exc

    def chain_id_check(self) -> int:
        """The node's chain id; refuses a node that serves another chain than configured."""
        actual = int(self._call(lambda: self.w3.eth.chain_id))
        if actual != self.chain_id:
            raise ChainIdMismatch(f"the node serves chain id {actual}, but CHAIN_ID is {self.chain_id}")
        return actual

    def block_number(self) -> int:
        return int(self._call(lambda: self.w3.eth.block_number))

    def block_hash(self, number: int) -> str:
        """The hash of block `number` on the node's current chain; ChainError when it has no such block."""
        try:
            block = self._call(self.w3.eth.get_block, number)
        except BlockNotFound as exc:
            raise ChainError(f"the node has no block {number}") from exc
        return "0x" + bytes(block["hash"]).hex()

    def logs_get(self, *, addresses: Sequence[str], from_block: int, to_block: int) -> list[dict[str, Any]]:
        """Every log the given contracts emitted in blocks `from_block`..`to_block` (both included),
        as the node returns them (topics and data as bytes), in chain order. A node that refuses the
        range (too many results, say) raises ChainError: the caller asks for fewer blocks."""
        params: FilterParams = {
            "address": [to_checksum_address(a) for a in addresses],
            "fromBlock": from_block,
            "toBlock": to_block,
        }
        try:
            logs = self._call(self.w3.eth.get_logs, params)
        except Web3RPCError as exc:
            raise ChainError(f"the node refused the logs of blocks {from_block}-{to_block}: {exc}") from exc
        return [dict(log) for log in logs]

    def code_exists(self, address: str, *, block: int | str = "latest") -> bool:
        try:
            code = self._call(self.w3.eth.get_code, to_checksum_address(address), block)
        except Web3RPCError as exc:
            raise ChainError(f"the node cannot tell the code at {address} in block {block}: {exc}") from exc
        return len(code) > 0

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=artifact(name)["abi"])

    # --- reads ------------------------------------------------------------------------------
    def safe_owners(self, safe: str) -> list[str]:
        owners = self._call(self.contract("SafeL2", safe).functions.getOwners().call)
        return [to_checksum_address(o) for o in owners]

    def safe_threshold(self, safe: str) -> int:
        return int(self._call(self.contract("SafeL2", safe).functions.getThreshold().call))

    def safe_nonce(self, safe: str) -> int:
        return int(self._call(self.contract("SafeL2", safe).functions.nonce().call))

    def safe_tx_hash_onchain(self, safe: str, tx: SafeTx) -> bytes:
        """The multisig's own hash of `tx`; used to prove our EIP-712 hash is the chain's."""
        fn = self.contract("SafeL2", safe).functions.getTransactionHash(
            tx.to, tx.value, tx.data, tx.operation, tx.safe_tx_gas, tx.base_gas, tx.gas_price,
            tx.gas_token, tx.refund_receiver, tx.nonce,
        )
        return bytes(self._call(fn.call))

    def multisig_kind_probe(self, address: str) -> str:
        """"safe" or "usdkg" by the contract's interface, "" when it is neither. A Safe answers
        `VERSION()`; the USDKG multisig answers `approvedHashes(address,bytes32)` and has no
        `VERSION()` (its `execTransaction` takes no signatures)."""
        address = to_checksum_address(address)
        if not self.code_exists(address):
            return ""
        try:
            version = str(self._call(self.contract("SafeL2", address).functions.VERSION().call))
        except (ContractLogicError, Web3RPCError, ValueError):
            version = ""
        if version:
            return "safe"
        try:
            self._call(self.contract("USDKGMultisig", address).functions.approvedHashes(address, b"\0" * 32).call)
            self._call(self.contract("USDKGMultisig", address).functions.getThreshold().call)
        except (ContractLogicError, Web3RPCError, ValueError):
            return ""
        return "usdkg"

    def token_multisigs(self, token: str) -> tuple[str, str]:
        """(owner(), compliance()) of the token: its issuance and compliance multisigs."""
        contract = self.contract("USDKG", token)
        try:
            owner = self._call(contract.functions.owner().call)
            compliance = self._call(contract.functions.compliance().call)
        except (ContractLogicError, Web3RPCError, ValueError) as exc:
            raise ChainError(f"{token} does not answer owner() and compliance(): not the USDKG token") from exc
        return to_checksum_address(owner), to_checksum_address(compliance)

    def usdkg_approved(self, multisig: str, owner: str, safe_tx_hash: str) -> bool:
        """Whether `owner` has approved `safe_tx_hash` on a USDKG multisig (approvals never expire)."""
        fn = self.contract("USDKGMultisig", multisig).functions.approvedHashes(
            to_checksum_address(owner), bytes.fromhex(safe_tx_hash.removeprefix("0x")))
        return int(self._call(fn.call)) == 1

    def usdkg_approve_data(self, *, multisig: str, tx: SafeTx, safe_tx_hash: str) -> bytes:
        """Calldata of the USDKG multisig's approveHash(<the whole call>, hash)."""
        return self._usdkg_encode(multisig, "approveHash", tx, bytes.fromhex(safe_tx_hash.removeprefix("0x")))

    def usdkg_exec_data(self, *, multisig: str, tx: SafeTx) -> bytes:
        """Calldata of the USDKG multisig's execTransaction (no signatures: the approvals are on chain)."""
        return self._usdkg_encode(multisig, "execTransaction", tx)

    def _usdkg_encode(self, multisig: str, function: str, tx: SafeTx, *extra: Any) -> bytes:
        encoded = self.contract("USDKGMultisig", multisig).encode_abi(function, args=[
            tx.to, tx.value, tx.data, tx.operation, tx.safe_tx_gas, tx.base_gas, tx.gas_price, tx.gas_token,
            tx.refund_receiver, *extra])
        return bytes.fromhex(encoded[2:])

    def usdkg_call_decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(function name, arguments) of calldata to a USDKG multisig; ("", {}) for anything else."""
        return self.call_decode("USDKGMultisig", data)

    def call_decode(self, contract_name: str, data: bytes) -> tuple[str, dict[str, Any]]:
        """(function name, arguments) of calldata to a contract of `contract_name`; ("", {}) if it is none."""
        contract = self.w3.eth.contract(abi=artifact(contract_name)["abi"])
        try:
            function, arguments = contract.decode_function_input(data)
        except ValueError:
            return "", {}
        return str(function.fn_name), dict(arguments)

    def balance(self, address: str) -> int:
        """ETH balance in wei."""
        return int(self._call(self.w3.eth.get_balance, to_checksum_address(address)))

    def token_total_supply(self, token: str, *, block: int | str = "latest") -> int:
        fn = self.contract("USDKG", token).functions.totalSupply()
        return int(self._call(fn.call, block_identifier=block))

    def token_balance(self, token: str, holder: str, *, block: int | str = "latest") -> int:
        fn = self.contract("USDKG", token).functions.balanceOf(to_checksum_address(holder))
        return int(self._call(fn.call, block_identifier=block))

    def token_is_blacklisted(self, token: str, holder: str, *, block: int | str = "latest") -> bool:
        fn = self.contract("USDKG", token).functions.isBlackListed(to_checksum_address(holder))
        return bool(self._call(fn.call, block_identifier=block))

    def token_paused(self, token: str, *, block: int | str = "latest") -> bool:
        """Whether transfers are paused; a pause while paused (or an unpause while not) reverts."""
        fn = self.contract("USDKG", token).functions.paused()
        return bool(self._call(fn.call, block_identifier=block))

    def token_fee_basis_points(self, token: str, *, block: int | str = "latest") -> int:
        """The transfer fee in basis points (`basisPointsRate`)."""
        fn = self.contract("USDKG", token).functions.basisPointsRate()
        return int(self._call(fn.call, block_identifier=block))

    def gold_feed_read(self, address: str) -> tuple[Decimal, datetime, int]:
        """(USD per troy ounce, when the feed last updated it, round id) from an AggregatorV3Interface
        feed (Chainlink's XAU/USD or the development one). The answer is scaled by the feed's own
        `decimals()`, exactly; an `updatedAt` of zero (a round never answered) is refused."""
        feed = self.contract("DevXauUsdAggregator", address).functions
        try:
            decimals = int(self._call(feed.decimals().call))
            round_id, answer, _, updated_at, _ = self._call(feed.latestRoundData().call)
        except (ContractLogicError, Web3RPCError, ValueError) as exc:
            raise ChainError(f"{address} does not answer as a price feed: {exc}") from exc
        if int(updated_at) <= 0:
            raise ChainError(f"the price feed {address} has no answer yet")
        price = Decimal(int(answer)).scaleb(-decimals)
        return price, datetime.fromtimestamp(int(updated_at), tz=UTC), int(round_id)

    def token_call_decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """(function name, arguments) of token calldata; ("", {}) for anything that is not a token call."""
        return self.call_decode("USDKG", data)

    def token_calldata(self, function: str, *args: Any) -> bytes:
        """ABI-encoded call of a token function, e.g. token_calldata("issue", recipient, amount)."""
        contract = self.w3.eth.contract(abi=artifact("USDKG")["abi"])
        return bytes.fromhex(contract.encode_abi(function, args=list(args))[2:])

    def account_nonce(self, address: str, *, block: str = "pending") -> int:
        """The next nonce of an account, counting its transactions still in the node's pool
        (`block="latest"`: only those mined)."""
        return int(self._call(self.w3.eth.get_transaction_count, to_checksum_address(address), block))

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            return dict(self._call(self.w3.eth.get_transaction_receipt, tx_hash))
        except TransactionNotFound:
            return None

    def transaction_get(self, tx_hash: str) -> dict[str, Any] | None:
        """A transaction as the node has it: `from` and `to` (checksummed), `input` (bytes),
        `block_number` and `block_hash` (None and "" while pending); None when the node does not know it."""
        try:
            found = self._call(self.w3.eth.get_transaction, tx_hash)
        except TransactionNotFound:
            return None
        block = found.get("blockNumber")
        return {
            "from": to_checksum_address(found["from"]),
            "to": to_checksum_address(found["to"]) if found.get("to") else "",
            "input": bytes(found["input"]),
            "block_number": int(block) if block is not None else None,
            "block_hash": "0x" + bytes(found["blockHash"]).hex() if block is not None else "",
        }

    def events(self, *, contract_name: str, address: str, event: str, receipt: dict[str, Any]) -> list[Any]:
        """Decoded `event` logs that `address` emitted in `receipt`, indexed parameters included."""
        handle = getattr(self.contract(contract_name, address).events, event)()
        return [dict(log["args"]) for log in handle.process_receipt(receipt, errors=DISCARD)]

    # --- writes -----------------------------------------------------------------------------
    def fees_estimate(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas): twice the latest base fee plus the tip, so a tx
        stays includable across several blocks of rising base fees."""
        latest = self._call(self.w3.eth.get_block, "latest")
        tip = int(self._call(lambda: self.w3.eth.max_priority_fee))
        return 2 * int(latest.get("baseFeePerGas", 0)) + tip, tip

    def transaction_sign(
        self, *, account: LocalAccount, tx: dict[str, Any], nonce: int | None = None, fee_bump_percent: int = 0
    ) -> SignedTx:
        """Fill nonce, gas and fees, sign locally. Estimating gas also simulates: a call that would
        revert is refused here (ChainError with the revert reason) before anything is sent."""
        tx = {**tx, "from": account.address, "chainId": self.chain_id}
        if nonce is None:
            nonce = self.account_nonce(account.address)
        tx["nonce"] = nonce
        try:
            gas = int(self._call(self.w3.eth.estimate_gas, tx))
        except (ContractLogicError, Web3RPCError) as exc:
            raise ChainError(f"the transaction would fail: {exc}") from exc
        max_fee, tip = self.fees_estimate()
        bump = 100 + fee_bump_percent
        tx.update(gas=gas * 6 // 5, maxFeePerGas=max_fee * bump // 100, maxPriorityFeePerGas=tip * bump // 100)
        signed = account.sign_transaction(tx)
        return SignedTx(tx_hash="0x" + bytes(signed.hash).hex(), raw=bytes(signed.raw_transaction),
                        sender=account.address, nonce=nonce)

    def raw_send(self, raw: bytes) -> str:
        """Broadcast a signed transaction. Sending the same bytes twice is harmless: the node
        already knows it (or has mined it), so that answer counts as success."""
        try:
            return "0x" + bytes(self._call(self.w3.eth.send_raw_transaction, raw)).hex()
        except Web3RPCError as exc:
            message = str(exc).lower()
            if "already known" in message or "nonce too low" in message or "already imported" in message:
                return "0x" + bytes(self.w3.keccak(raw)).hex()
            raise ChainError(f"the node refused the transaction: {exc}") from exc

    def deploy(self, *, account: LocalAccount, name: str, args: list[Any]) -> tuple[str, dict[str, Any]]:
        """Deploy a committed artifact; returns (address, receipt)."""
        data = artifact(name)
        factory = self.w3.eth.contract(abi=data["abi"], bytecode=data["bytecode"])
        tx = factory.constructor(*args).build_transaction({"from": account.address, "chainId": self.chain_id})
        receipt = self.transact(account=account, tx={"data": tx["data"]})
        return to_checksum_address(receipt["contractAddress"]), receipt

    def transact(self, *, account: LocalAccount, tx: dict[str, Any]) -> dict[str, Any]:
        """Sign, send and wait for the receipt; refuses a reverted transaction."""
        signed = self.transaction_sign(account=account, tx=tx)
        self.raw_send(signed.raw)
        receipt = dict(self._call(self.w3.eth.wait_for_transaction_receipt, signed.tx_hash, timeout=120))
        if receipt["status"] != 1:
            raise ChainError(f"transaction {signed.tx_hash} reverted")
        return receipt

    def exec_transaction_data(self, *, safe: str, tx: SafeTx, signatures: bytes) -> bytes:
        """Calldata of the multisig's execTransaction for `tx` with packed owner signatures."""
        contract = self.contract("SafeL2", safe)
        encoded = contract.encode_abi(
            "execTransaction",
            args=[tx.to, tx.value, tx.data, tx.operation, tx.safe_tx_gas, tx.base_gas, tx.gas_price,
                  tx.gas_token, tx.refund_receiver, signatures],
        )
        return bytes.fromhex(encoded[2:])


def chain_client() -> ChainClient:
    return ChainClient(rpc_url=settings.CHAIN_RPC_URL, chain_id=settings.CHAIN_ID, timeout=settings.CHAIN_RPC_TIMEOUT)
