"""The health endpoint for load balancers and process supervisors, and what a person is
told when the database is away."""

import sys

from django.contrib.auth.decorators import login_not_required
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .celery import app as celery_app

# Seconds a client is asked to wait before trying again while the database is away.
RETRY_AFTER = 5


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer, 503 (naming the one that does not)
    otherwise. Cheap enough to poll every few seconds."""
    checks = {"database": _database(), "broker": _broker()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure is "down"; the message says which
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _broker() -> str:
    try:
        with celery_app.connection_for_write() as broker:
            broker.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 handler. A request that failed because the database could not be
    reached (restarting, failing over, out of connections) is not a bug: it gets a 503
    saying that nothing was saved and to try again -- the API's error shape under
    ``/api/``, a page otherwise, both with ``Retry-After``. A write that failed this way
    was rolled back whole (every change is one transaction). Anything else is Django's
    own 500. Touches no database: it is what answers when there is none."""
    error = sys.exc_info()[1]
    if not isinstance(error, (OperationalError, InterfaceError)):
        return defaults.server_error(request)
    message = _(
        "The database is not answering, so nothing was saved. Try again in a moment; "
        "if it keeps happening, tell your administrator."
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message, "errors": {}}, status=503)
    else:
        page = render_to_string("salesflow/unavailable.html", {"message": message})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    return response
