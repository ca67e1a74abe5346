from __future__ import annotations

import re

from eth_utils import to_checksum_address

_HEX_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def address_require_checksummed(value: str, *, field: str = "address") -> str:
    """Return `value` if it is a valid EIP-55 checksummed address; refuse anything else.

    Lower- or upper-case-only input is refused too: a checksum is the only protection against a
    mistyped character, and money sent to a mistyped address is gone.
    """
    text = (value or "").strip()
    if not _HEX_ADDRESS.match(text):
        raise ValueError(f"{field}: '{value}' is not an address (0x followed by 40 hexadecimal digits)")
    checksummed = str(to_checksum_address(text))
    if text != checksummed:
        raise ValueError(f"{field}: '{value}' is not checksummed (EIP-55); did you mean {checksummed}?")
    return checksummed


def address_normalize(value: str) -> str | None:
    """Any-case hex address as its checksummed form, or None if it is not an address (for lists
    from outside, e.g. sanctions lists, that do not keep EIP-55 case)."""
    text = (value or "").strip()
    return str(to_checksum_address(text)) if _HEX_ADDRESS.match(text) else None
