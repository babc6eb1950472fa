"""API tokens of integrations: made, listed and revoked -- each an audit event.

django-rest-knox stores a token only as a SHA-512 digest (a copy of the database does not
let anyone call the API) and gives each one an expiry (``REST_KNOX["TOKEN_TTL"]``,
``SALESFLOW_API_TOKEN_DAYS``). A token is shown once, when it is made. Rotation: make a
new one, give it to the integration, then revoke the older ones (``api_tokens_revoke``
with ``keep_newest``); see docs/deploy.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _
from knox.models import AuthToken

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record
from salesflow.exceptions import NotPermitted

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class NewToken:
    token: str  # shown once: only its digest is stored
    expiry: datetime | None


@transaction.atomic
def api_token_create(*, user: User, by: User | None = None) -> NewToken:
    """A new API token for an (active) integration's user; the older ones stay valid
    until revoked or expired. One ADMIN_CHANGE audit event (``by`` None: the command line)."""
    if not user.is_active:
        raise NotPermitted(
            _("%(user)s is deactivated: an API token would not work.")
            % {"user": user.get_username()}
        )
    instance, token = AuthToken.objects.create(user=user)
    audit_record(
        action=AuditEvent.Action.ADMIN_CHANGE,
        actor=by,
        to_user=user,
        reason=_("API token created"),
        data={"change": "added", "model": "knox.AuthToken", "object": instance.token_key},
    )
    return NewToken(token=token, expiry=instance.expiry)


@transaction.atomic
def api_tokens_revoke(*, user: User, keep_newest: bool, by: User | None = None) -> int:
    """Revoke the user's API tokens -- all, or all but the newest (the end of a rotation).
    One audit event; returns how many were revoked."""
    tokens = AuthToken.objects.filter(user=user).order_by("-created", "-pk")
    keys = list(tokens.values_list("token_key", flat=True))
    revoked = keys[1:] if keep_newest else keys
    if revoked:
        AuthToken.objects.filter(user=user, token_key__in=revoked).delete()
        audit_record(
            action=AuditEvent.Action.ADMIN_CHANGE,
            actor=by,
            to_user=user,
            reason=_("API tokens revoked"),
            data={"change": "deleted", "model": "knox.AuthToken", "objects": revoked},
        )
    return len(revoked)
