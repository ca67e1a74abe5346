from .audits import Audit, AuditCount, AuditState, Discrepancy, DiscrepancyKind
from .bars import Bar, Vault
from .deposits import Deposit, DepositState
from .imports import BarListImport, ImportKind, ImportState
from .prices import GoldPrice, GoldPriceOrigin, GoldPriceState, ReserveSnapshot
from .proposals import OwnerProposal, ProposalBacking, ProposalState

__all__ = [
    "Audit", "AuditCount", "AuditState", "Bar", "BarListImport", "Deposit", "DepositState", "Discrepancy",
    "DiscrepancyKind", "GoldPrice", "GoldPriceOrigin", "GoldPriceState", "ImportKind", "ImportState",
    "OwnerProposal", "ProposalBacking", "ProposalState", "ReserveSnapshot", "Vault",
]
