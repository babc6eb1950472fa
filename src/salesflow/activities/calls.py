"""Calls from the telephone exchange: ``POST /api/calls/`` for PBX integrations.

An exchange is registered by an admin (``CallIntegration``: a name and a shared secret of
at least 32 characters). Each request carries three headers:

* ``X-Salesflow-Exchange`` -- its name;
* ``X-Salesflow-Timestamp`` -- the time it was signed, in Unix seconds; a request more than
  ``SALESFLOW_CALL_MAX_AGE_SECONDS`` (300) away from our clock is refused, so a captured
  request cannot be replayed later;
* ``X-Salesflow-Signature`` -- ``sha256=`` and the hex HMAC-SHA256, keyed with the secret,
  of the timestamp, a dot and the exact body bytes.

and a JSON body: ``call_id`` (the exchange's own id: a retry with the same id answers with
the call already recorded, and records nothing), ``direction`` (``in``/``out``), ``number``
(the client's side), ``started`` (ISO 8601 with its offset), ``duration`` (seconds),
``status`` (``answered``, ``missed``, ``busy``, ``failed``), optionally ``recording_url``
and ``agent`` (the employee's user name or e-mail). The number is matched to a client by
its normalised key (``clients.normalize.phone_key``), so the manager sees who called
without ever needing the number; an unknown number goes to the triage list.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from salesflow.clients.models import Contact
from salesflow.clients.normalize import phone_key
from salesflow.exceptions import SalesflowError

from .models import Activity, CallIntegration, ExchangeCall

STATUSES = {
    "answered": gettext_lazy("answered"),
    "missed": gettext_lazy("missed"),
    "busy": gettext_lazy("busy"),
    "failed": gettext_lazy("failed"),
}


class CallNotAuthentic(SalesflowError):
    """The request is not provably from a registered exchange, or not fresh."""

    status = 401


@dataclass(frozen=True)
class CallRecorded:
    activity: Activity
    call: ExchangeCall
    created: bool  # False: the exchange sent this call before


def signature_for(*, secret: str, timestamp: str, body: bytes) -> str:
    """What an exchange sends as ``X-Salesflow-Signature``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _authentic(*, exchange: str, timestamp: str, signature: str, body: bytes) -> CallIntegration:
    if not exchange or not timestamp or not signature:
        raise CallNotAuthentic(
            _(
                "A call report needs the headers X-Salesflow-Exchange, X-Salesflow-Timestamp "
                "and X-Salesflow-Signature."
            )
        )
    integration = CallIntegration.objects.filter(name=exchange, active=True).first()
    if integration is None:
        raise CallNotAuthentic(
            _("No active telephone exchange is registered as “%(name)s”.") % {"name": exchange[:50]}
        )
    if not timestamp.isascii() or not timestamp.isdigit():
        raise CallNotAuthentic(_("X-Salesflow-Timestamp must be the time in Unix seconds."))
    age = timezone.now().timestamp() - int(timestamp)
    limit = settings.SALESFLOW_CALL_MAX_AGE_SECONDS
    if abs(age) > limit:
        raise CallNotAuthentic(
            _(
                "The request was signed %(age)d seconds from now; more than %(limit)d is refused "
                "as a possible replay. Check the exchange's clock."
            )
            % {"age": round(age), "limit": limit}
        )
    expected = signature_for(secret=integration.secret, timestamp=timestamp, body=body)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise CallNotAuthentic(
            _(
                "The signature does not match: sign the timestamp, a dot and the exact body "
                "with the exchange's secret (HMAC-SHA256, hex, prefixed “sha256=”)."
            )
        )
    return integration


def _report(body: bytes) -> dict[str, Any]:
    """The body's fields, checked; SalesflowError (400) naming each bad one."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SalesflowError(_("The body must be a JSON object in UTF-8.")) from None
    if not isinstance(data, dict):
        raise SalesflowError(_("The body must be a JSON object in UTF-8."))
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}

    def text(name: str, limit: int, required: bool = True) -> str:
        value = data.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str) or len(value) > limit or "\x00" in value:
            errors[name] = [_("A text of at most %(n)d characters.") % {"n": limit}]
            return ""
        if required and not value.strip():
            errors[name] = [_("This field is required.")]
        return value.strip()

    clean["call_id"] = text("call_id", 200)
    clean["number"] = text("number", 50)
    clean["agent"] = text("agent", 254, required=False)
    clean["recording_url"] = text("recording_url", 1000, required=False)
    direction = data.get("direction")
    if direction not in Activity.Direction.values:
        errors["direction"] = [_("“in” or “out”.")]
    clean["direction"] = direction
    status = data.get("status")
    if status not in STATUSES:
        errors["status"] = [_("One of: %(known)s.") % {"known": ", ".join(STATUSES)}]
    clean["status"] = status
    duration = data.get("duration", 0)
    if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= 86400:
        errors["duration"] = [_("Whole seconds, from 0 to 86400.")]
    clean["duration"] = duration
    started = data.get("started")
    try:
        moment = datetime.fromisoformat(started) if isinstance(started, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        errors["started"] = [
            _("A time in ISO 8601 with its offset, e.g. 2026-03-02T10:00:00+03:00.")
        ]
    clean["started"] = moment
    if clean["recording_url"]:
        try:
            URLValidator(schemes=["http", "https"])(clean["recording_url"])
        except ValidationError:
            errors["recording_url"] = [_("An http(s) address.")]
    if clean["number"] and not phone_key(clean["number"]):
        errors["number"] = [_("A phone number, e.g. +7 900 123-45-67.")]
    if errors:
        raise SalesflowError(
            _("The call report is not valid: see the fields in “errors”."), errors=errors
        )
    return clean


def call_receive(*, exchange: str, timestamp: str, signature: str, body: bytes) -> CallRecorded:
    """Record a call an exchange reports (see the module's docstring): checked -- the
    signature and its age before anything is read -- then stored once per call id, on the
    timeline of the client whose contact has the number, or on the triage list. Refuses
    (CallNotAuthentic, 401; SalesflowError, 400) writing nothing."""
    integration = _authentic(exchange=exchange, timestamp=timestamp, signature=signature, body=body)
    report = _report(body)
    existing = _existing(integration, report["call_id"])
    if existing is not None:
        return existing
    key = phone_key(report["number"])
    contact = (
        Contact.objects.filter(phone_key=key, client__merged_into__isnull=True)
        .select_related("client")
        .order_by("client__created", "client_id", "pk")
        .first()
    )
    author = None
    if report["agent"]:
        author = (
            get_user_model()
            ._default_manager.filter(Q(username=report["agent"]) | Q(email__iexact=report["agent"]))
            .order_by("pk")
            .first()
        )
    try:
        with transaction.atomic():
            activity = Activity.objects.create(
                kind=Activity.Kind.CALL,
                direction=report["direction"],
                source=Activity.Source.EXCHANGE,
                client=contact.client if contact else None,
                contact=contact,
                author=author,
                occurred=report["started"],
                duration=report["duration"],
                outcome=report["status"],
                counterpart=report["number"],
            )
            call = ExchangeCall.objects.create(
                integration=integration,
                call_id=report["call_id"],
                activity=activity,
                recording_url=report["recording_url"],
                status=report["status"],
                payload=json.loads(body.decode("utf-8")),
            )
    except IntegrityError:  # the same call, reported twice at once
        again = _existing(integration, report["call_id"])
        if again is None:
            raise
        return again
    return CallRecorded(activity=activity, call=call, created=True)


def _existing(integration: CallIntegration, call_id: str) -> CallRecorded | None:
    call = (
        ExchangeCall.objects.filter(integration=integration, call_id=call_id)
        .select_related("activity")
        .first()
    )
    return CallRecorded(activity=call.activity, call=call, created=False) if call else None
