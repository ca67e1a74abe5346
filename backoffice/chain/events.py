"""Decoding the logs of our contracts into (event name, JSON-ready arguments).

Which events are kept is declared per contract role in one table; a log whose topic0 is not in its
role's table (Approval, SafeReceived, Safe owner management...) is skipped, not an error. Both
multisig kinds are covered: Safe's `ApproveHash(bytes32,address)` and the USDKG multisig's full-call
`ApproveHash(...)` have different topic0s, so whichever the contract emits is recognised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from eth_abi.exceptions import DecodingError
from eth_typing import ABIEvent
from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3 import Web3
from web3._utils.events import get_event_data
from web3.exceptions import LogTopicError, MismatchedABI
from web3.types import LogReceipt

from .client import artifact
from .models import ContractRole as Role

logger = logging.getLogger(__name__)


_TOKEN_EVENTS = [("USDKG", name) for name in (
    "Issue", "Redeem", "Transfer", "AddedBlackList", "RemovedBlackList", "DestroyedBlackFunds", "Pause", "Unpause",
    "Params",
)]
_MULTISIG_EVENTS = [
    ("SafeL2", "ExecutionSuccess"), ("SafeL2", "ExecutionFailure"), ("SafeL2", "ApproveHash"),
    ("USDKGMultisig", "ApproveHash"),
]
WATCHED_EVENTS: dict[str, list[tuple[str, str]]] = {
    Role.TOKEN: _TOKEN_EVENTS, Role.ISSUANCE: _MULTISIG_EVENTS, Role.COMPLIANCE: _MULTISIG_EVENTS,
}


@cache
def _topics(role: str) -> dict[bytes, ABIEvent]:
    table: dict[bytes, ABIEvent] = {}
    for contract, name in WATCHED_EVENTS[role]:
        abi = next(e for e in artifact(contract)["abi"] if e["type"] == "event" and e["name"] == name)
        table[bytes(event_abi_to_log_topic(abi))] = cast(ABIEvent, abi)
    return table


def json_value(value: Any) -> Any:
    """Big integers as decimal strings (JSON numbers lose precision past 2**53), bytes as 0x hex,
    addresses checksummed; lists and tuples element by element."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, str):
        return to_checksum_address(value) if Web3.is_address(value) else value
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


@dataclass(frozen=True)
class DecodedLog:
    name: str
    args: dict[str, Any]


def log_decode(*, role: str, log: dict[str, Any]) -> DecodedLog | None:
    """The event a log of a contract in `role` carries, or None for an event that is not watched."""
    topics = log.get("topics") or []
    if not topics:
        return None  # anonymous events have no topic0: none of ours are anonymous
    abi = _topics(role).get(bytes(topics[0]))
    if abi is None:
        return None
    try:
        data = get_event_data(Web3().codec, abi, cast(LogReceipt, log))
    except (DecodingError, LogTopicError, MismatchedABI) as exc:
        # Same topic0 but another layout (a different contract at a watched address?): skip, loudly.
        logger.warning("chain-log skipped tx=%s log-index=%s reason=%s", log.get("transactionHash"),
                       log.get("logIndex"), exc)
        return None
    return DecodedLog(name=str(data["event"]), args={k: json_value(v) for k, v in data["args"].items()})
