from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from backoffice.multisig import views_reconciliation

admin.site.site_header = "USDKG back-office"
admin.site.site_title = "USDKG back-office"
admin.site.index_title = "Home"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/multisig/", include("backoffice.multisig.api_transactions")),
    path("api/reconciliation/", views_reconciliation.ReconciliationView.as_view(), name="api-reconciliation"),
    path("reconciliation/", views_reconciliation.reconciliation_page, name="reconciliation"),
    path("reconciliation/alerts/<int:alert_id>/acknowledge/", views_reconciliation.alert_acknowledge_view,
         name="reconciliation-alert-acknowledge"),
    path("api/journal/", include("backoffice.journal.api")),
    path("api/compliance/", include("compliance.api.urls")),
    path("compliance/", include("compliance.urls")),
    path("api/", include("issuance.api.urls")),
    path("multisig/", include("backoffice.multisig.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("issuance.public.urls")),
]
