"""PUBLIC TEST KEYS — anvil's default accounts, derived from the mnemonic Foundry publishes.

Everyone knows these keys: anything sent to their addresses on a real network is taken within
seconds. They exist for the local demo and the tests only. Never use them for real funds.
"""

from __future__ import annotations

from functools import cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
RELAYER_INDEX = 0
OWNER_INDEXES = range(1, 8)  # the 7 owners of the issuance multisig
OFFICER_INDEXES = range(8, 13)  # the 5 officers of the compliance multisig
ACCOUNTS_NEEDED = 20  # anvil is started with --accounts 20

Account.enable_unaudited_hdwallet_features()


@cache
def dev_account(index: int) -> LocalAccount:
    account: LocalAccount = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account
