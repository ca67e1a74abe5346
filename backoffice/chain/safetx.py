"""The Safe v1.3+/v1.4.1 SafeTx: its EIP-712 typed data, its hash, and signature recovery.

The hash is computed here from first principles (abi-encoded struct, keccak) and tests check it
against both the multisig's own `getTransactionHash` and eth-account's typed-data encoder, so the
server, the chain and the wallet can never disagree about what is being signed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import coincurve
from eth_abi import encode
from eth_utils import keccak, to_checksum_address

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
DOMAIN_TYPEHASH = keccak(text="EIP712Domain(uint256 chainId,address verifyingContract)")
SAFE_TX_TYPEHASH = keccak(
    text="SafeTx(address to,uint256 value,bytes data,uint8 operation,uint256 safeTxGas,uint256 baseGas,"
    "uint256 gasPrice,address gasToken,address refundReceiver,uint256 nonce)"
)
# secp256k1 group order: a signature with s above half of it is the malleable twin of another.
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class InvalidSignature(ValueError):
    """The bytes are not a canonical 65-byte ECDSA signature (r, s, v with v in 27/28)."""


def domain_separator(*, chain_id: int, safe_address: str) -> bytes:
    """The EIP-712 domain hash of one multisig on one chain (what a hardware wallet shows as "domain hash")."""
    return keccak(encode(["bytes32", "uint256", "address"], [DOMAIN_TYPEHASH, chain_id, safe_address]))


@dataclass(frozen=True)
class SafeTx:
    """One multisig transaction. Gas refund fields stay zero: the relayer pays, nobody is refunded."""

    to: str
    value: int
    data: bytes
    operation: int
    nonce: int
    safe_tx_gas: int = 0
    base_gas: int = 0
    gas_price: int = 0
    gas_token: str = ZERO_ADDRESS
    refund_receiver: str = ZERO_ADDRESS

    def __post_init__(self) -> None:
        object.__setattr__(self, "to", to_checksum_address(self.to))
        object.__setattr__(self, "gas_token", to_checksum_address(self.gas_token))
        object.__setattr__(self, "refund_receiver", to_checksum_address(self.refund_receiver))
        if self.operation not in (0, 1):
            raise ValueError("operation must be 0 (call) or 1 (delegatecall)")
        if min(self.value, self.nonce, self.safe_tx_gas, self.base_gas, self.gas_price) < 0:
            raise ValueError("SafeTx integers cannot be negative")

    def struct_hash(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "address", "uint256", "bytes32", "uint8", "uint256", "uint256", "uint256",
                 "address", "address", "uint256"],
                [SAFE_TX_TYPEHASH, self.to, self.value, keccak(self.data), self.operation, self.safe_tx_gas,
                 self.base_gas, self.gas_price, self.gas_token, self.refund_receiver, self.nonce],
            )
        )

    def safe_tx_hash(self, *, chain_id: int, safe_address: str) -> bytes:
        return keccak(b"\x19\x01" + domain_separator(chain_id=chain_id, safe_address=safe_address)
                      + self.struct_hash())

    def typed_data(self, *, chain_id: int, safe_address: str) -> dict[str, Any]:
        """The exact JSON a wallet signs with eth_signTypedData_v4 (integers as decimal strings)."""
        return {
            "types": {
                "EIP712Domain": [
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "SafeTx": [
                    {"name": "to", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "data", "type": "bytes"},
                    {"name": "operation", "type": "uint8"},
                    {"name": "safeTxGas", "type": "uint256"},
                    {"name": "baseGas", "type": "uint256"},
                    {"name": "gasPrice", "type": "uint256"},
                    {"name": "gasToken", "type": "address"},
                    {"name": "refundReceiver", "type": "address"},
                    {"name": "nonce", "type": "uint256"},
                ],
            },
            "primaryType": "SafeTx",
            "domain": {"chainId": str(chain_id), "verifyingContract": to_checksum_address(safe_address)},
            "message": {
                "to": self.to,
                "value": str(self.value),
                "data": "0x" + self.data.hex(),
                "operation": self.operation,
                "safeTxGas": str(self.safe_tx_gas),
                "baseGas": str(self.base_gas),
                "gasPrice": str(self.gas_price),
                "gasToken": self.gas_token,
                "refundReceiver": self.refund_receiver,
                "nonce": str(self.nonce),
            },
        }

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["data"] = "0x" + self.data.hex()
        return values


def signature_parse(signature: str | bytes) -> bytes:
    """65 bytes r || s || v, v in {27, 28}, s in the lower half; anything else is refused."""
    if isinstance(signature, str):
        text = signature[2:] if signature.startswith(("0x", "0X")) else signature
        try:
            raw = bytes.fromhex(text)
        except ValueError as exc:
            raise InvalidSignature("the signature is not hexadecimal") from exc
    else:
        raw = bytes(signature)
    if len(raw) != 65:
        raise InvalidSignature(f"a signature is 65 bytes, this one is {len(raw)}")
    r, s, v = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
    if v not in (27, 28):
        raise InvalidSignature(f"v must be 27 or 28 for an EIP-712 signature, not {v}")
    if not (0 < r < _SECP256K1_N and 0 < s <= _SECP256K1_N // 2):
        raise InvalidSignature("r or s is out of range (non-canonical signature)")
    return raw


# EIP-55 in C-speed steps: per hex position, 0x20 where the address hash's nibble is 8 or more (T_HASH)
# and the address's character is a letter (T_LETTER); XOR with 0x20 upper-cases exactly those letters.
_T_HASH = bytes.maketrans(b"0123456789abcdef", b"\0" * 8 + b"\x20" * 8)
_T_LETTER = bytes.maketrans(b"0123456789abcdef", b"\0" * 10 + b"\x20" * 6)


def address_checksum(raw: bytes) -> str:
    """EIP-55 form of a 20-byte address (what eth_utils' to_checksum_address gives, at a tenth of its cost:
    on the path every owner signature takes it cost more than the recovery's own bookkeeping)."""
    lower = raw.hex().encode()
    upper = int.from_bytes(keccak(lower).hex()[:40].encode().translate(_T_HASH), "big") & int.from_bytes(
        lower.translate(_T_LETTER), "big")
    return "0x" + (int.from_bytes(lower, "big") ^ upper).to_bytes(40, "big").decode()


def signature_recover(*, digest: bytes, signature: str | bytes) -> str:
    """The checksummed address whose key made `signature` over the 32-byte `digest`.

    Straight on libsecp256k1 (coincurve): eth_keys' wrapper objects around the same call cost as much
    again as the recovery, on the path every owner signature takes."""
    raw = signature_parse(signature)
    if len(digest) != 32:
        raise InvalidSignature(f"the signed digest is 32 bytes, this one is {len(digest)}")
    try:
        public = coincurve.PublicKey.from_signature_and_message(raw[:64] + bytes([raw[64] - 27]), digest,
                                                                hasher=None)
    except Exception as exc:  # libsecp256k1 refuses a signature with no point behind it; all mean the same
        raise InvalidSignature("no public key can be recovered from this signature") from exc
    return address_checksum(keccak(public.format(compressed=False)[1:])[-20:])


def signatures_pack(signatures: dict[str, bytes]) -> bytes:
    """Concatenate owner signatures sorted by owner address, as Safe's checkNSignatures requires."""
    ordered = sorted(signatures.items(), key=lambda item: int(item[0], 16))
    return b"".join(signature_parse(sig) for _, sig in ordered)
