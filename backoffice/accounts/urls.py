"""Each user's own pages: notification preferences, marking notifications read, the second factor."""

from django.urls import path

from . import views, views_mfa

app_name = "accounts"

urlpatterns = [
    path("notifications/", views.notification_preferences_page, name="notification-preferences"),
    path("notifications/read/", views.notifications_read_view, name="notifications-read"),
    path("second-factor/enrol/", views_mfa.enrol_page, name="mfa-enrol"),
    path("second-factor/check/", views_mfa.challenge_page, name="mfa-challenge"),
    path("second-factor/recovery-codes/", views_mfa.recovery_codes_page, name="mfa-recovery-codes"),
    path("second-factor/recovery-codes/renew/", views_mfa.recovery_codes_renew_view, name="mfa-recovery-codes-renew"),
    path("second-factor/", views_mfa.devices_page, name="mfa-devices"),
]
