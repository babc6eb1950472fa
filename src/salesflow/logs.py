"""Log lines that can be followed across processes.

Every line carries the id of the web request (``request_id``, taken from an incoming
``X-Request-ID`` header or made up, and sent back in the response) or of the Celery task
(``task_id``) it was written for. In production each line is one JSON object, for the
log collector; in development a readable line with the same ids.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse

current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
current_task_id: ContextVar[str | None] = ContextVar("task_id", default=None)

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Give each request an id: the caller's ``X-Request-ID`` if it is a plain token,
    else a new one; it is in every log line of the request and in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        value = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = current_request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
        response["X-Request-ID"] = value
        return response


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``task_id`` to every record ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        record.task_id = current_task_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "task_id": getattr(record, "task_id", "-"),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def bind_celery_task_ids() -> None:
    """Set ``task_id`` while a Celery task runs (connected by ``salesflow.celery``)."""
    from celery.signals import task_postrun, task_prerun

    tokens: dict[str, Any] = {}

    @task_prerun.connect(weak=False)
    def _start(task_id: str | None = None, **kwargs: Any) -> None:
        if task_id:
            tokens[task_id] = current_task_id.set(task_id)

    @task_postrun.connect(weak=False)
    def _end(task_id: str | None = None, **kwargs: Any) -> None:
        token = tokens.pop(task_id, None) if task_id else None
        if token is not None:
            current_task_id.reset(token)
