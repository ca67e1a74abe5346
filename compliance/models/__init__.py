from .cases import Case, CaseCategory, CaseEvidence, CaseState
from .proposals import ComplianceAction, ComplianceProposal
from .register import FrozenAddress, ScreeningEntry, ScreeningImport

__all__ = [
    "Case", "CaseCategory", "CaseEvidence", "CaseState", "ComplianceAction", "ComplianceProposal", "FrozenAddress",
    "ScreeningEntry", "ScreeningImport",
]
