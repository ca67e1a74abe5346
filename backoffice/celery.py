"""The Celery app: settings under the CELERY_ namespace, tasks discovered in every installed app.

DJANGO_SETTINGS_MODULE is required, never guessed: a worker must not sign on the demo's defaults."""

from celery import Celery

from backoffice.settings.checks import settings_module_require

settings_module_require()

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
