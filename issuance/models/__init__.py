from .audits import Audit, AuditCount, AuditState, Discrepancy, DiscrepancyKind
from .bars import Bar, Vault
from .deposits import Deposit, DepositState
from .prices import GoldPrice, ReserveSnapshot

__all__ = [
    "Audit", "AuditCount", "AuditState", "Bar", "Deposit", "DepositState", "Discrepancy", "DiscrepancyKind",
    "GoldPrice", "ReserveSnapshot", "Vault",
]
