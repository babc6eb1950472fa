"""The engine's refusals.

Services raise these with a message a person can act on; the web views, the API and the
command line turn them into a form error or an HTTP status in one place each, using
``status``. Nothing is written when one is raised: every service runs in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.functional import Promise


class SalesflowError(Exception):
    """Base class: a refused action. ``errors`` maps form fields to messages, if any."""

    status = 400

    def __init__(
        self,
        message: str | Promise,
        *,
        errors: Mapping[str, Sequence[str | Promise]] | None = None,
    ) -> None:
        self.message = str(message)
        self.errors = {key: [str(m) for m in value] for key, value in (errors or {}).items()}
        super().__init__(self.message)


class StageInvalid(SalesflowError):
    """The stage's own data is missing or wrong (an outcome without its reason, ...)."""


class HandoffIncomplete(SalesflowError):
    """The handoff note is missing, or too thin to be of use to the next person."""


class HandoffNotAcknowledged(SalesflowError):
    """The receiver has to read (acknowledge) or bounce the incoming note first."""

    status = 409


class NotPermitted(SalesflowError):
    """The user may not do this (not their task, not their role, not a team lead)."""

    status = 403


class SeparationOfDutiesViolated(NotPermitted):
    """A separation-of-duties rule forbids this user on this client or process."""


class ClaimConflict(SalesflowError):
    """Someone else got there first: the task is no longer in the state the user saw."""

    status = 409


class NotFound(SalesflowError):
    status = 404


class WipLimitReached(SalesflowError):
    """The person already holds as many open tasks as their role allows."""

    status = 409


class StageOnHold(SalesflowError):
    """The stage waits for work it handed over (a side task): it cannot be completed or
    sent back until that is done or cancelled."""

    status = 409
