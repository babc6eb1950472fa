"""WSGI entry point (gunicorn salesflow.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesflow.settings")
application = get_wsgi_application()
