from rest_framework.routers import SimpleRouter

from .proposals import ProposalViewSet
from .views import AuditViewSet, DepositViewSet, GoldPriceViewSet

# SimpleRouter: no browsable root view, so the schema lists exactly the endpoints below.
router = SimpleRouter()
router.register("deposits", DepositViewSet, basename="deposit")
router.register("audits", AuditViewSet, basename="audit")
router.register("prices", GoldPriceViewSet, basename="goldprice")
router.register("proposals", ProposalViewSet, basename="ownerproposal")

urlpatterns = router.urls
