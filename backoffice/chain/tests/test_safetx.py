"""The SafeTx hash and signatures, without a node: the chain-side check lives in test_deploy_chain."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from backoffice.chain.addresses import address_require_checksummed
from backoffice.chain.devkeys import dev_account
from backoffice.chain.safetx import (
    InvalidSignature,
    SafeTx,
    address_checksum,
    signature_recover,
    signatures_pack,
)

SAFE = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
TOKEN = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def _tx(nonce: int = 7) -> SafeTx:
    return SafeTx(to=TOKEN, value=0, data=bytes.fromhex("40c10f19" + "00" * 64), operation=0, nonce=nonce)


def _digest(signable) -> bytes:
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def test_hash_is_the_eip712_hash_of_the_typed_data_a_wallet_signs():
    tx = _tx()
    typed = tx.typed_data(chain_id=31337, safe_address=SAFE)
    assert _digest(encode_typed_data(full_message=typed)) == tx.safe_tx_hash(chain_id=31337, safe_address=SAFE)


def test_hash_changes_with_chain_id_safe_and_nonce():
    base = _tx().safe_tx_hash(chain_id=31337, safe_address=SAFE)
    assert _tx().safe_tx_hash(chain_id=1, safe_address=SAFE) != base
    assert _tx().safe_tx_hash(chain_id=31337, safe_address=TOKEN) != base
    assert _tx(nonce=8).safe_tx_hash(chain_id=31337, safe_address=SAFE) != base


def test_a_typed_data_signature_recovers_to_its_signer():
    tx, owner = _tx(), dev_account(1)
    signed = Account.sign_typed_data(owner.key, full_message=tx.typed_data(chain_id=31337, safe_address=SAFE))
    digest = tx.safe_tx_hash(chain_id=31337, safe_address=SAFE)
    assert signature_recover(digest=digest, signature=signed.signature) == owner.address
    assert signature_recover(digest=digest, signature="0x" + bytes(signed.signature).hex()) == owner.address


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("0x1234", "65 bytes"),
        ("not hex at all", "not hexadecimal"),
        ("0x" + "11" * 64 + "1b" + "00", "65 bytes"),
        ("0x" + "11" * 64 + "00", "v must be 27 or 28"),
        ("0x" + "00" * 32 + "11" * 32 + "1b", "out of range"),
        ("0x" + "11" * 32 + "ff" * 32 + "1b", "out of range"),
    ],
)
def test_malformed_signatures_are_refused_with_a_reason(signature, message):
    with pytest.raises(InvalidSignature, match=message):
        signature_recover(digest=b"\x01" * 32, signature=signature)


def test_signatures_are_packed_in_ascending_owner_order():
    sigs = {dev_account(i).address: bytes([i]) * 32 + b"\x01" * 32 + b"\x1b" for i in (1, 2, 3)}
    packed = signatures_pack(sigs)
    order = sorted(sigs, key=lambda a: int(a, 16))
    assert packed == b"".join(sigs[a] for a in order)
    assert order != list(sigs)  # the input order was not already sorted: the test proves the sort


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "not checksummed"),
        ("0x70997970C51812dc3A010C7d01b50e0d17dc79C9", "not checksummed"),
        ("0x70997970C51812dc3A010C7d01b50e0d17dc79", "not an address"),
        ("70997970C51812dc3A010C7d01b50e0d17dc79C8", "not an address"),
        ("", "not an address"),
    ],
)
def test_addresses_must_be_checksummed(value, message):
    with pytest.raises(ValueError, match=message):
        address_require_checksummed(value)


def test_a_checksummed_address_is_accepted():
    assert address_require_checksummed(" 0x70997970C51812dc3A010C7d01b50e0d17dc79C8") == dev_account(1).address


def test_the_checksum_is_eip55_for_every_address_shape():
    # The all-digit, all-letter and mixed cases, then keys' own addresses: the fast form must never differ.
    samples = [b"\0" * 20, b"\xff" * 20, bytes(range(20)), bytes.fromhex("aa" * 10 + "09" * 10)]
    samples += [bytes.fromhex(Account.create().address[2:]) for _ in range(300)]
    for raw in samples:
        assert address_checksum(raw) == to_checksum_address(raw)


def test_a_signature_over_another_digest_recovers_someone_else():
    digest = keccak(b"what the owner signed")
    signature = Account.unsafe_sign_hash(digest, dev_account(1).key).signature
    assert signature_recover(digest=digest, signature=signature) == dev_account(1).address
    assert signature_recover(digest=keccak(b"something else"), signature=signature) != dev_account(1).address
    with pytest.raises(InvalidSignature, match="32 bytes"):
        signature_recover(digest=digest[:31], signature=signature)
