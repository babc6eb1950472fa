"""Idempotent writes: a retried request never creates a second lead or does a change twice.

A client sends an ``Idempotency-Key`` with each lead it creates (required) and, if it
likes, with each change to a task; the first request with a key stores the answer it got,
in the same transaction as the lead or the change. A retry with the same
key and the same body gets that answer again; the same key with another body is refused
(409). Keys are per user and remembered ``SALESFLOW_IDEMPOTENCY_KEY_DAYS`` days.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from salesflow.exceptions import ClaimConflict

from .models import IdempotencyKey


class IdempotencyKeyReused(ClaimConflict):
    """The key came with another request body: the client is confused, not retrying."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def request_fingerprint(payload: Any) -> str:
    """The same body, whatever the order of its keys or its spacing, has one fingerprint."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction.atomic
def idempotent_call(
    *, user: User, key: str, fingerprint: str, call: Callable[[], Answer]
) -> Answer:
    """Run ``call`` once per (user, key) and remember its answer; answer a repeat with it.

    Two concurrent requests with one key: the second's INSERT of the key waits for the
    first's transaction (the unique constraint); once the first commits, the second
    reads the stored answer. If the first fails, nothing of it remains -- key included --
    and the second goes ahead as the first. ``call`` runs in this transaction.
    """
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint)
    except IntegrityError:
        record = IdempotencyKey.objects.get(user=user, key=key)
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                _(
                    "This Idempotency-Key was already used with a different request body. "
                    "Use a new key for a new request."
                )
            ) from None
        # stored by the transaction that created the key, so always there once visible
        return Answer(status=record.response_status or 0, body=record.response or {}, replayed=True)
    answer = call()
    record.response_status = answer.status
    record.response = answer.body
    record.save(update_fields=["response_status", "response"])
    return answer


def idempotency_keys_expire(*, now: Any = None) -> int:
    """Forget keys older than ``SALESFLOW_IDEMPOTENCY_KEY_DAYS``; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SALESFLOW_IDEMPOTENCY_KEY_DAYS)
    deleted, _counts = IdempotencyKey.objects.filter(created__lt=cutoff).delete()
    return deleted
