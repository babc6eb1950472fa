"""WSGI entry point (gunicorn salesflow.wsgi).

With ``SALESFLOW_ENV`` unset -- the development defaults, DEBUG and a published secret key
-- it refuses to start bound to anything but this machine, and answers no request from
another one (``salesflow.security``): a production install that forgot the variable
fails loudly instead of serving the client base with the demo's settings."""

import os
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesflow.settings")
django_application = get_wsgi_application()

from .security import (  # noqa: E402 - settings are configured by the line above
    DevelopmentDefaultsGuard,
    bind_hosts,
    development_defaults_refusal,
)

for _host in bind_hosts(sys.argv, os.environ):
    _refusal = development_defaults_refusal(where="the bind address", host=_host)
    if _refusal:
        raise ImproperlyConfigured(_refusal)
application = DevelopmentDefaultsGuard(django_application)
