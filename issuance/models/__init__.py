from .audits import Audit, AuditCount, AuditState, Discrepancy, DiscrepancyKind
from .bars import Bar, Vault
from .deposits import Deposit, DepositState
from .imports import BarListImport, ImportKind, ImportState
from .prices import GoldPrice, ReserveSnapshot

__all__ = [
    "Audit", "AuditCount", "AuditState", "Bar", "BarListImport", "Deposit", "DepositState", "Discrepancy",
    "DiscrepancyKind", "GoldPrice", "ImportKind", "ImportState", "ReserveSnapshot", "Vault",
]
