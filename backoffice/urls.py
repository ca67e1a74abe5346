from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import IsAdminUser

from backoffice.accounts.throttle import ThrottledAdminAuthenticationForm
from backoffice.accounts.views import InboxView
from backoffice.core.views_health import healthz
from backoffice.multisig import views_reconciliation, views_timeline

admin.site.site_header = "USDKG back-office"
admin.site.site_title = "USDKG back-office"
admin.site.index_title = "Home"
# The login form says when an account is locked or a source throttled (backoffice.accounts.throttle).
admin.site.login_form = ThrottledAdminAuthenticationForm

# A refusal says why and links back, with DEBUG on or off.
handler403 = "backoffice.core.views_errors.permission_denied"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/multisig/", include("backoffice.multisig.api_transactions")),
    path("api/reconciliation/", views_reconciliation.ReconciliationView.as_view(), name="api-reconciliation"),
    path("reconciliation/", views_reconciliation.reconciliation_page, name="reconciliation"),
    path("reconciliation/alerts/<int:alert_id>/acknowledge/", views_reconciliation.alert_acknowledge_view,
         name="reconciliation-alert-acknowledge"),
    path("api/addresses/<str:address>/timeline/", views_timeline.AddressTimelineView.as_view(),
         name="api-address-timeline"),
    path("api/timeline/<str:label>/<int:pk>/", views_timeline.ObjectTimelineView.as_view(), name="api-object-timeline"),
    path("history/address/", views_timeline.address_timeline_page, name="timeline-address-search"),
    path("history/address/<str:address>/", views_timeline.address_timeline_page, name="timeline-address"),
    path("history/address/<str:address>/export/", views_timeline.address_timeline_export,
         name="timeline-address-export"),
    path("history/<str:label>/<int:pk>/", views_timeline.object_timeline_page, name="timeline-object"),
    path("history/<str:label>/<int:pk>/export/", views_timeline.object_timeline_export, name="timeline-object-export"),
    path("manager/charts/", include("issuance.views_charts")),
    path("api/journal/", include("backoffice.journal.api")),
    path("api/inbox/", InboxView.as_view(), name="api-inbox"),
    path("account/", include("backoffice.accounts.urls")),
    path("account/passkeys/", include("backoffice.accounts.webauthn_urls")),
    path("api/compliance/", include("compliance.api.urls")),
    path("compliance/", include("compliance.urls")),
    path("api/", include("issuance.api.urls")),
    path("multisig/", include("backoffice.multisig.urls")),
    # The schema maps every endpoint and its parameters: for staff (session or API token), not the public.
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[IsAdminUser]), name="schema"),
    # The split view loads its start-up script from a URL (same view, same permission): no inline script,
    # so the production CSP allows it.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema", permission_classes=[IsAdminUser]),
         name="api-docs"),
    path("", include("issuance.public.urls")),
]
