from .cases import Case, CaseCategory, CaseEvidence, CaseState
from .proposals import ComplianceProposal
from .register import FrozenAddress, ScreeningEntry, ScreeningImport

__all__ = [
    "Case", "CaseCategory", "CaseEvidence", "CaseState", "ComplianceProposal", "FrozenAddress",
    "ScreeningEntry", "ScreeningImport",
]
