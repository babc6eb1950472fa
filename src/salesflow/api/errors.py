"""The one place where refusals become HTTP answers.

Every error body has the same shape -- ``{"detail": "...", "errors": {"field": ["..."]}}``
-- whether it is the engine refusing (a ``SalesflowError`` with its ``status``: 400, 403,
404, 409), a malformed payload (DRF's validation, field by field), bad JSON (400), a
missing sign-in (401) or an unknown route. Nothing a client sends becomes a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from salesflow.exceptions import SalesflowError


class ErrorSerializer(serializers.Serializer):
    """What every refused request answers (documented in the schema for each status)."""

    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def _flatten(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure as ``{"field.sub": ["message", ...]}``."""
    if isinstance(data, dict):
        flat: dict[str, list[str]] = {}
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            flat.update(_flatten(value, name))
        return flat
    if isinstance(data, list):
        if all(not isinstance(item, (dict, list)) for item in data):
            return {prefix or "non_field_errors": [str(item) for item in data]}
        flat = {}
        for index, item in enumerate(data):
            flat.update(_flatten(item, f"{prefix}[{index}]" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [str(data)]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, SalesflowError):
        body: dict[str, Any] = {"detail": exc.message}
        if exc.errors:
            body["errors"] = exc.errors
        return Response(body, status=exc.status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "detail": _("The request is not valid: see the fields in “errors”."),
            "errors": _flatten(response.data),
        }
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"detail": str(response.data["detail"])}
    else:
        response.data = {"detail": str(response.data)}
    return response
