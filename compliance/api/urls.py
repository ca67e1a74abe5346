from rest_framework.routers import SimpleRouter

from .views import CaseViewSet, ComplianceProposalViewSet, RegisterViewSet

# SimpleRouter: no browsable root view, so the schema lists exactly the endpoints below.
router = SimpleRouter()
router.register("cases", CaseViewSet, basename="compliance-case")
router.register("proposals", ComplianceProposalViewSet, basename="compliance-proposal")
router.register("register", RegisterViewSet, basename="compliance-register")

urlpatterns = router.urls
