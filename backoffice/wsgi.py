"""The WSGI application (gunicorn in production: gunicorn.conf.py). The settings are named by
DJANGO_SETTINGS_MODULE, never guessed: production must not come up on the demo's defaults."""

from django.core.wsgi import get_wsgi_application

from backoffice.settings.checks import settings_module_require

settings_module_require()

application = get_wsgi_application()
