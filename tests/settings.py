"""Test settings: the real PostgreSQL (``DATABASE_URL``, default the local server with
trust auth), Celery tasks run eagerly, fast password hashing, e-mail kept in memory."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/salesflow")

from salesflow.settings import *  # noqa: E402,F403

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LANGUAGE_CODE = "en"
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Login throttling needs the request, which the test client's login() does not pass;
# the throttling tests switch it on for themselves.
AXES_ENABLED = False
