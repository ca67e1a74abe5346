"""Each user's own pages: notification preferences, marking notifications read."""

from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("notifications/", views.notification_preferences_page, name="notification-preferences"),
    path("notifications/read/", views.notifications_read_view, name="notifications-read"),
]
