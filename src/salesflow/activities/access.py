"""Who may read and write the company's memory: one answer per question, for the pages,
the API and the commands alike (Zulip's ``access_*`` helpers).

* Anyone signed in may open a client's timeline; what each entry shows follows the masking
  rules of the client base (``clients.selectors.contact_entitlement``): the holder of one of
  the client's tasks and the roles entitled to its contacts read what was said and written,
  contacts as they may see them; everybody else sees that something happened, and when.
* Reveals and exports of the client's contacts appear only for those who watch for leaks:
  the team leads (and admins).
* Logging an activity about a client, or writing to it from the product, is for the person
  holding one of its tasks, and the team leads.
* The triage list (mail and calls that matched no client) and the list of deals without a
  next step are the team leads'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from salesflow.clients.models import Client
from salesflow.clients.selectors import Entitlement, contact_entitlement
from salesflow.exceptions import NotFound, NotPermitted
from salesflow.models import MERGE_CLIENTS
from salesflow.roles import can_manage_queues

from .models import Activity, MailMessage

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser


@dataclass(frozen=True)
class Viewer:
    """What one person may read of one client's memory."""

    entitlement: Entitlement
    watches_access: bool  # sees reveals and exports (team leads, admins)

    @property
    def reads_details(self) -> bool:
        """What was said and written: for the holder of one of the client's tasks and the
        roles entitled to its contacts (they may reveal them on the card)."""
        return self.entitlement.holds_task or bool(self.entitlement.revealable)

    def sees(self, field: str) -> bool:
        """A phone or an address in full (else masked). Never, today: phones and e-mails
        are revealed one at a time on the client's card (an audit event each), so the
        timeline shows them masked to everyone, the task's holder included."""
        return self.entitlement.sees(field)

    @property
    def may_log(self) -> bool:
        return self.entitlement.holds_task or self.watches_access


def viewer_of(*, user: AnyUser, client_id: int) -> Viewer:
    return Viewer(
        entitlement=contact_entitlement(user=user, client_id=client_id),
        watches_access=can_manage_queues(user),
    )


def access_client(*, user: AnyUser, client_id: int) -> tuple[Client, Viewer]:
    """The client (followed to the one it was merged into) and what ``user`` may read of
    its memory. NotFound for no such client, NotPermitted for nobody signed in."""
    if not user.is_authenticated or not user.is_active:
        raise NotPermitted(_("Sign in to read a client's timeline."))
    client = Client.objects.filter(pk=client_id).first()
    seen = set()
    while client is not None and client.merged_into_id is not None and client.pk not in seen:
        seen.add(client.pk)
        client = Client.objects.filter(pk=client.merged_into_id).first()
    if client is None:
        raise NotFound(_("Client #%(id)s does not exist.") % {"id": client_id})
    return client, viewer_of(user=user, client_id=client.pk)


def require_may_log(*, user: AnyUser, client_id: int) -> Viewer:
    """What ``user`` may read of the client, if they may also add to its memory (they
    hold one of its tasks, or lead the team); NotPermitted otherwise."""
    viewer = viewer_of(user=user, client_id=client_id)
    if not user.is_authenticated or not user.is_active or not viewer.may_log:
        raise NotPermitted(
            _(
                "Only the person holding one of this client's tasks, or a team lead, can add "
                "to its history."
            )
        )
    return viewer


def may_triage(user: AnyUser) -> bool:
    """Who sorts out mail and calls that matched no client, and watches for deals left
    without a next step: the team leads (and admins)."""
    return user.is_authenticated and can_manage_queues(user)


def may_match(user: AnyUser) -> bool:
    """Who puts mail and calls that matched no client on a client's timeline: the team
    leads, and whoever keeps the client base (``clients.merge_clients``: the database
    operators, whose queue lists them)."""
    return may_triage(user) or bool(
        user.is_authenticated and user.is_active and user.has_perm(MERGE_CLIENTS)
    )


def require_may_match(user: AnyUser) -> None:
    if not may_match(user):
        raise NotPermitted(
            _(
                "Mail and calls that matched no client are for the team leads and the "
                "database operators."
            )
        )


def require_may_triage(user: AnyUser) -> None:
    if not may_triage(user):
        raise NotPermitted(_("Mail and calls that matched no client are for the team leads."))


def access_mail(*, user: AnyUser, mail_id: int) -> tuple[MailMessage, Viewer | None]:
    """An e-mail message and what ``user`` may read of it: through a client it concerns
    (the first they read in full, else the first), or -- for one that matched no client --
    as the triage list's reader. NotFound if there is no such message or they may not
    read it at all."""
    mail = MailMessage.objects.filter(pk=mail_id).first()
    if mail is None or not user.is_authenticated or not user.is_active:
        raise NotFound(_("E-mail #%(id)s does not exist.") % {"id": mail_id})
    client_ids = list(
        Activity.objects.filter(mail=mail, client__isnull=False)
        .order_by("client_id")
        .values_list("client_id", flat=True)
    )
    if not client_ids:
        if may_triage(user):
            return mail, None
        raise NotFound(_("E-mail #%(id)s does not exist.") % {"id": mail_id})
    viewers = [viewer_of(user=user, client_id=client_id) for client_id in client_ids]
    return mail, next((v for v in viewers if v.reads_details), viewers[0])
