"""The one chain client. Every read and write to the node goes through here.

`chain_client()` hands out one client per process and per settings (tests point the settings at
anvil): its HTTP session, its contract objects and its one chain-id check are kept between calls.
Connection errors and timeouts surface as ChainUnavailable, the only error a task may retry.

Every JSON-RPC request to the node is counted (`ChainClient.requests_made`, `round_trips`, and
`request_count()` around a piece of work), so the cost of a path in node requests can be asserted.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import URI
from eth_utils import to_checksum_address
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types
from web3 import HTTPProvider, Web3
from web3._utils.error_formatters_utils import raise_contract_logic_error_on_revert
from web3._utils.http_session_manager import HTTPSessionManager
from web3._utils.validation import validate_rpc_response_and_raise_if_error
from web3.contract import Contract
from web3.exceptions import (
    BadFunctionCallOutput,
    BlockNotFound,
    ContractLogicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.logs import DISCARD
from web3.types import FilterParams, RPCEndpoint, RPCResponse

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


@dataclass(frozen=True)
class _View:
    """How to ask a contract's view function with eth_call and read its answer, worked out once from
    the ABI (web3 searches and validates the whole ABI, and hashes every signature, on each call)."""

    selector: bytes
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@cache
def _view(contract_name: str, function: str) -> _View:
    entries = [e for e in artifact(contract_name)["abi"] if e.get("type") == "function" and e["name"] == function]
    if len(entries) != 1:
        raise ValueError(f"{contract_name} has {len(entries)} functions named {function}, not one")
    entry = entries[0]
    return _View(selector=function_abi_to_4byte_selector(entry), inputs=tuple(get_abi_input_types(entry)),
                 outputs=tuple(get_abi_output_types(entry)))


@lru_cache(maxsize=4096)
def _checksummed(address: str) -> str:
    return to_checksum_address(address)


def _normalized(abi_type: str, value: Any) -> Any:
    """Addresses checksummed and arrays as lists, as web3 answers them."""
    if abi_type == "address":
        return _checksummed(value)
    if abi_type.endswith("[]"):
        return [_normalized(abi_type[:-2], v) for v in value]
    return value


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


@dataclass
class RequestCount:
    """Node requests: `requests` JSON-RPC requests (each one of a batch counts), `round_trips` HTTP
    requests to the node (a batch is one), and the `methods` asked, in order."""

    requests: int = 0
    round_trips: int = 0
    methods: list[str] = field(default_factory=list)


class _SessionPerThread(HTTPSessionManager):
    """One requests session per thread, whose environment settings (proxy, CA bundle) are read once.

    requests reads the proxy variables and looks for ~/.netrc again on every request (a scan of the
    whole environment and a stat each time); the node's URL does not change, so its proxy is resolved
    once, honouring NO_PROXY. A node's credentials belong in its URL or headers, never in ~/.netrc."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def cache_and_return_session(self, endpoint_uri: URI, session: requests.Session | None = None,
                                 request_timeout: float | None = None) -> requests.Session:
        cached: requests.Session | None = getattr(self._local, "session", None)
        if cached is None:
            cached = self._local.session = session or requests.Session()
            cached.trust_env = False
            cached.proxies = requests.utils.get_environ_proxies(str(endpoint_uri))
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            if bundle:
                cached.verify = bundle
        return cached


class _CountingHTTPProvider(HTTPProvider):
    """web3's HTTP provider that counts what it sends: a running total, and the methods for whoever
    is measuring at the moment (`ChainClient.request_count()`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_session_manager = _SessionPerThread()
        self.total = RequestCount()
        self.meters: list[RequestCount] = []
        self._count_lock = threading.Lock()

    def _count(self, methods: list[str]) -> None:
        with self._count_lock:
            for counted in (self.total, *self.meters):
                counted.requests += len(methods)
                counted.round_trips += 1
            for meter in self.meters:
                meter.methods.extend(methods)

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        self._count([method])
        return super().make_request(method, params)

    def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> list[RPCResponse] | RPCResponse:
        self._count([method for method, _ in batch_requests])
        return super().make_batch_request(batch_requests)


SAFE_CONFIG_CACHE_SIZE = 256  # (multisig, block) pairs: far more than a burst of reads needs


class ChainClient:
    def __init__(self, *, rpc_url: str, chain_id: int, timeout: int = 10) -> None:
        self.rpc_url = rpc_url
        self.chain_id = chain_id
        self._provider = _CountingHTTPProvider(rpc_url, request_kwargs={"timeout": timeout})
        self.w3 = Web3(self._provider)
        # web3's validation middleware asks the node for its chain id before every eth_call and
        # eth_estimateGas: the chain id is checked once per client instead (chain_id_check, before the
        # first write). No address here is an ENS name, so that middleware's work on every request goes
        # too. The remaining defaults only shape answers and fill eth_sendTransaction (anvil, tests).
        self.w3.middleware_onion.remove("validation")
        self.w3.middleware_onion.remove("ens_name_to_address")
        self._chain_id_verified = False
        self._contracts: dict[tuple[str, str], Contract] = {}
        self._codecs: dict[str, type[Contract]] = {}
        self._safe_configs: OrderedDict[tuple[str, int], tuple[list[str], int]] = OrderedDict()
        self._cache_lock = threading.Lock()

    # --- connection -------------------------------------------------------------------------
    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (requests.ConnectionError, requests.Timeout, requests.HTTPError) as exc:
            # A node that stopped answering may come back as another node: check its chain id again.
            self._chain_id_verified = False
            # The URL may carry a provider's key: name only the kind of failure, never the address.
            raise ChainUnavailable(f"the chain node does not answer ({type(exc).__name__})") from exc

    @property
    def requests_made(self) -> int:
        """JSON-RPC requests this client sent since it was built (each request of a batch counts)."""
        return self._provider.total.requests

    @property
    def round_trips(self) -> int:
        """HTTP requests this client sent to the node since it was built (a batch counts once)."""
        return self._provider.total.round_trips

    @contextmanager
    def request_count(self) -> Iterator[RequestCount]:
        """Counts the node requests made through this client inside the block (from any thread that
        shares the client), with the methods asked: `with client.request_count() as counted: ...`."""
        meter = RequestCount()
        with self._provider._count_lock:
            self._provider.meters.append(meter)
        try:
            yield meter
        finally:
            with self._provider._count_lock:
                self._provider.meters.remove(meter)

    def chain_id_check(self) -> int:
        """The node's chain id; refuses a node that serves another chain than configured.

        Asked once per client: the node behind one URL does not change chains while it keeps answering.
        It is asked again after the node stopped answering, and every time while it mismatches."""
        if self._chain_id_verified:
            return self.chain_id
        actual = int(self._call(lambda: self.w3.eth.chain_id))
        if actual != self.chain_id:
            raise ChainIdMismatch(f"the node serves chain id {actual}, but CHAIN_ID is {self.chain_id}")
        self._chain_id_verified = True
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
        """The contract object of a committed artifact at `address`, built once per client: building
        it from the ABI costs more than most calls made with it."""
        key = (name, address)
        found = self._contracts.get(key)
        if found is None:
            found = self.w3.eth.contract(address=to_checksum_address(address), abi=artifact(name)["abi"])
            self._contracts[key] = found
        return found

    def _codec(self, name: str) -> type[Contract]:
        """An address-less contract class of `name`, for encoding and decoding calldata only."""
        found = self._codecs.get(name)
        if found is None:
            found = self.w3.eth.contract(abi=artifact(name)["abi"])
            self._codecs[name] = found
        return found

    def _batch(self, *calls: Callable[[], Any]) -> list[Any]:
        """Several reads in one HTTP request to the node (JSON-RPC batch), answers in order. Each call
        is a function making one web3 request (inside the batch web3 only records it); any failing
        read raises as it would alone."""
        def send() -> list[Any]:
            with self.w3.batch_requests() as batch:
                for call in calls:
                    batch.add(call())
                return list(batch.execute())

        return list(self._call(send))

    def _reads(self, *calls: tuple[str, str, str, Sequence[Any], int | str]) -> list[Any]:
        """Answers of view functions, each call (contract name, address, function, arguments, block),
        asked with eth_call in one HTTP request (a batch when there are several). One output is
        answered as itself, several as a tuple. A revert raises ContractLogicError, any other
        refusal Web3RPCError, an answer that is not the function's output BadFunctionCallOutput."""
        views = [_view(name, function) for name, _, function, _, _ in calls]
        requests_ = []
        for view, (_, address, _, args, block) in zip(views, calls, strict=True):
            data = "0x" + (view.selector + abi_encode(view.inputs, args)).hex()
            requests_.append((RPCEndpoint("eth_call"),
                              [{"to": address, "data": data}, block if isinstance(block, str) else hex(block)]))
        if len(requests_) == 1:
            responses: Any = [self._call(self._provider.make_request, *requests_[0])]
        else:
            responses = self._call(self._provider.make_batch_request, requests_)
            if not isinstance(responses, list):  # the node refused the whole batch
                validate_rpc_response_and_raise_if_error(responses, None)
                raise Web3RPCError(f"the node refused a batch of {len(requests_)} calls")
        answers = []
        for view, response in zip(views, responses, strict=True):
            validate_rpc_response_and_raise_if_error(response, raise_contract_logic_error_on_revert)
            result = response.get("result")
            if not isinstance(result, str) or not result.startswith("0x"):
                raise BadFunctionCallOutput(f"the node answered {result!r} to eth_call")
            try:
                values = abi_decode(view.outputs, bytes.fromhex(result[2:]))
            except DecodingError as exc:
                raise BadFunctionCallOutput(f"the answer is not the function's output ({exc})") from exc
            normalized = [_normalized(t, v) for t, v in zip(view.outputs, values, strict=True)]
            answers.append(normalized[0] if len(normalized) == 1 else tuple(normalized))
        return answers

    def _read(self, contract_name: str, address: str, function: str, *args: Any, block: int | str = "latest") -> Any:
        return self._reads((contract_name, address, function, args, block))[0]

    # --- reads ------------------------------------------------------------------------------
    def safe_owners(self, safe: str, *, block: int | None = None) -> list[str]:
        """The multisig's owners (checksummed) now: one eth_call. At a given `block`, kept with the
        threshold per (multisig, block) (`safe_config`)."""
        if block is not None:
            return list(self.safe_config(safe, block=block)[0])
        return list(self._read("SafeL2", safe, "getOwners"))

    def safe_threshold(self, safe: str, *, block: int | None = None) -> int:
        if block is not None:
            return self.safe_config(safe, block=block)[1]
        return int(self._read("SafeL2", safe, "getThreshold"))

    def safe_config(self, safe: str, *, block: int) -> tuple[list[str], int]:
        """(owners, threshold) of the multisig at `block`, both read in one request and kept per
        (multisig, block): state at a block never changes, so a burst of reads pinned to the head
        (`block=client.block_number()`) asks the node for them once, and the next block asks again.
        (A reorg that replaces the block with one changing the owners is not seen by a read pinned to
        its number; the chain itself checks owners when it executes.)"""
        key = (to_checksum_address(safe), block)
        with self._cache_lock:
            found = self._safe_configs.get(key)
            if found is not None:
                self._safe_configs.move_to_end(key)
                return list(found[0]), found[1]
        owners, threshold = self._reads(("SafeL2", safe, "getOwners", (), block),
                                        ("SafeL2", safe, "getThreshold", (), block))
        config = (list(owners), int(threshold))
        with self._cache_lock:
            self._safe_configs[key] = config
            while len(self._safe_configs) > SAFE_CONFIG_CACHE_SIZE:
                self._safe_configs.popitem(last=False)
        return list(config[0]), config[1]

    def safe_nonce(self, safe: str) -> int:
        return int(self._read("SafeL2", safe, "nonce"))

    def safe_nonce_threshold(self, safe: str) -> tuple[int, int]:
        """(nonce, threshold) of the multisig, read together in one request."""
        nonce, threshold = self._reads(("SafeL2", safe, "nonce", (), "latest"),
                                       ("SafeL2", safe, "getThreshold", (), "latest"))
        return int(nonce), int(threshold)

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
            version = str(self._read("SafeL2", address, "VERSION"))
        except (ContractLogicError, Web3RPCError, ValueError):
            version = ""
        if version:
            return "safe"
        try:
            self._reads(("USDKGMultisig", address, "approvedHashes", (address, b"\0" * 32), "latest"),
                        ("USDKGMultisig", address, "getThreshold", (), "latest"))
        except (ContractLogicError, Web3RPCError, ValueError):
            return ""
        return "usdkg"

    def token_multisigs(self, token: str) -> tuple[str, str]:
        """(owner(), compliance()) of the token: its issuance and compliance multisigs."""
        try:
            owner, compliance = self._reads(("USDKG", token, "owner", (), "latest"),
                                            ("USDKG", token, "compliance", (), "latest"))
        except (ContractLogicError, Web3RPCError, ValueError) as exc:
            raise ChainError(f"{token} does not answer owner() and compliance(): not the USDKG token") from exc
        return to_checksum_address(owner), to_checksum_address(compliance)

    def usdkg_approved(self, multisig: str, owner: str, safe_tx_hash: str) -> bool:
        """Whether `owner` has approved `safe_tx_hash` on a USDKG multisig (approvals never expire)."""
        approved = self._read("USDKGMultisig", multisig, "approvedHashes", to_checksum_address(owner),
                              bytes.fromhex(safe_tx_hash.removeprefix("0x")))
        return int(approved) == 1

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
        try:
            function, arguments = self._codec(contract_name).decode_function_input(data)
        except ValueError:
            return "", {}
        return str(function.fn_name), dict(arguments)

    def balance(self, address: str) -> int:
        """ETH balance in wei."""
        return int(self._call(self.w3.eth.get_balance, to_checksum_address(address)))

    def token_total_supply(self, token: str, *, block: int | str = "latest") -> int:
        return int(self._read("USDKG", token, "totalSupply", block=block))

    def token_balance(self, token: str, holder: str, *, block: int | str = "latest") -> int:
        return int(self._read("USDKG", token, "balanceOf", to_checksum_address(holder), block=block))

    def token_is_blacklisted(self, token: str, holder: str, *, block: int | str = "latest") -> bool:
        return bool(self._read("USDKG", token, "isBlackListed", to_checksum_address(holder), block=block))

    def token_paused(self, token: str, *, block: int | str = "latest") -> bool:
        """Whether transfers are paused; a pause while paused (or an unpause while not) reverts."""
        return bool(self._read("USDKG", token, "paused", block=block))

    def token_fee_basis_points(self, token: str, *, block: int | str = "latest") -> int:
        """The transfer fee in basis points (`basisPointsRate`)."""
        return int(self._read("USDKG", token, "basisPointsRate", block=block))

    def gold_feed_read(self, address: str) -> tuple[Decimal, datetime, int]:
        """(USD per troy ounce, when the feed last updated it, round id) from an AggregatorV3Interface
        feed (Chainlink's XAU/USD or the development one). The answer is scaled by the feed's own
        `decimals()`, exactly; an `updatedAt` of zero (a round never answered) is refused."""
        try:
            decimals, (round_id, answer, _, updated_at, _) = self._reads(
                ("DevXauUsdAggregator", address, "decimals", (), "latest"),
                ("DevXauUsdAggregator", address, "latestRoundData", (), "latest"))
            decimals = int(decimals)
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
        return bytes.fromhex(self._codec("USDKG").encode_abi(function, args=list(args))[2:])

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
        stays includable across several blocks of rising base fees. One request (a batch)."""
        eth = self.w3.eth
        try:
            latest, tip = self._batch(lambda: eth.get_block("latest"), lambda: eth.max_priority_fee)
        except Web3RPCError:
            # A node without eth_maxPriorityFeePerGas: asked alone, web3 falls back to the fee history.
            latest, tip = self._call(eth.get_block, "latest"), self._call(lambda: eth.max_priority_fee)
        return self._fees(latest, tip)

    @staticmethod
    def _fees(latest: Any, tip: Any) -> tuple[int, int]:
        return 2 * int(latest.get("baseFeePerGas", 0)) + int(tip), int(tip)

    def _gas_estimate(self, tx: dict[str, Any]) -> int:
        try:
            return int(self._call(self.w3.eth.estimate_gas, tx))
        except (ContractLogicError, Web3RPCError) as exc:
            raise ChainError(f"the transaction would fail: {exc}") from exc

    def transaction_sign(
        self, *, account: LocalAccount, tx: dict[str, Any], nonce: int | None = None, nonce_floor: int = 0,
        fee_bump_percent: int = 0,
    ) -> SignedTx:
        """Fill nonce, gas and fees, sign locally. Estimating gas also simulates: a call that would
        revert is refused here (ChainError with the revert reason) before anything is sent.

        Without `nonce`, the account's next nonce counting its transactions in the node's pool, and
        never below `nonce_floor` (nonces claimed here but perhaps not sent yet). The node is asked
        once, in one batch: that nonce, the gas estimate, the latest base fee and the tip. Refuses
        (ChainIdMismatch) a node on another chain than configured, before anything is signed."""
        self.chain_id_check()
        tx = {**tx, "from": account.address, "chainId": self.chain_id}
        if nonce is not None:
            tx["nonce"] = nonce
        eth = self.w3.eth
        reads: list[Callable[[], Any]] = [
            lambda: eth.estimate_gas(tx),  # type: ignore[arg-type]
            lambda: eth.get_block("latest"),
            lambda: eth.max_priority_fee,
        ]
        if nonce is None:
            reads.append(lambda: eth.get_transaction_count(account.address, "pending"))
        try:
            gas, latest, tip, *pending = self._batch(*reads)
        except (ContractLogicError, Web3RPCError):
            # One of them failed: asked one by one, a failing estimate (the call would revert) is told
            # from a node that lacks the tip method (web3 then falls back to the fee history).
            gas = self._gas_estimate(tx)
            latest, tip = self._call(eth.get_block, "latest"), self._call(lambda: eth.max_priority_fee)
            pending = [self.account_nonce(account.address)] if nonce is None else []
        if nonce is None:
            nonce = max(int(pending[0]), nonce_floor)
            tx["nonce"] = nonce
        max_fee, tip = self._fees(latest, tip)
        bump = 100 + fee_bump_percent
        tx.update(gas=int(gas) * 6 // 5, maxFeePerGas=max_fee * bump // 100, maxPriorityFeePerGas=tip * bump // 100)
        signed = account.sign_transaction(tx)
        return SignedTx(tx_hash="0x" + bytes(signed.hash).hex(), raw=bytes(signed.raw_transaction),
                        sender=account.address, nonce=nonce)

    def raw_send(self, raw: bytes) -> str:
        """Broadcast a signed transaction. Sending the same bytes twice is harmless: the node
        already knows it (or has mined it), so that answer counts as success. Refuses
        (ChainIdMismatch) a node on another chain than configured: nothing is sent to it."""
        self.chain_id_check()
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


_clients: OrderedDict[tuple[str, int, int, int], ChainClient] = OrderedDict()
_clients_lock = threading.Lock()
CLIENTS_KEPT = 8  # tests switch settings (another node, a proxy); a process in production uses one


def chain_client() -> ChainClient:
    """The process's client for the current settings (CHAIN_RPC_URL, CHAIN_ID, CHAIN_RPC_TIMEOUT).

    Built once and handed out again, so its HTTP connection, contract objects and chain-id check
    are reused; changed settings get a client of their own. Keyed by process id too: a forked
    Celery worker child must not share the parent's pooled connections, so it builds its own."""
    key = (settings.CHAIN_RPC_URL, int(settings.CHAIN_ID), int(settings.CHAIN_RPC_TIMEOUT), os.getpid())
    client = _clients.get(key)
    if client is not None:
        return client
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            for inherited in [k for k in _clients if k[3] != key[3]]:
                del _clients[inherited]  # a forked parent's: its connections are the parent's to use
            client = ChainClient(rpc_url=key[0], chain_id=key[1], timeout=key[2])
            _clients[key] = client
            while len(_clients) > CLIENTS_KEPT:
                _clients.popitem(last=False)  # the oldest settings; rebuilt if they come back
        return client
