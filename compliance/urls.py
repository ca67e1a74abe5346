"""The compliance pages: the frozen-address register, sanctions screening, evidence downloads."""

from django.urls import path

from . import views

app_name = "compliance"

urlpatterns = [
    path("register/", views.register_page, name="register"),
    path("register/refresh/", views.register_refresh_page, name="register-refresh"),
    path("screening/", views.screening_page, name="screening"),
    path("screening/open-case/", views.screening_case_open, name="screening-open-case"),
    path("evidence/<int:pk>/", views.evidence_download, name="evidence"),
]
