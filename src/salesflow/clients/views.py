"""Pages of the client base: the list, a client's card, a contact revealed, the export.

Thin: parse, check the permission, call one service or selector, render. Contacts reach a
template only as ``ContactCard``s (``selectors``), already masked for the person looking;
a refusal (``SalesflowError``) is shown with its message and status, nothing written.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from salesflow.exceptions import SalesflowError
from salesflow.models import ADD_LEAD, EXPORT_CLIENTS
from salesflow.web import person

from . import selectors, services
from .models import Client

# --- the client base (pages of the ClientsApp) ---------------------------------------------


def client_list(request: HttpRequest) -> HttpResponse:
    """Every client, contacts masked for everyone (a list is a copy of the base)."""
    search = request.GET.get("q", "")[:200]
    status = request.GET.get("status", "")
    if status not in Client.Status.values:
        status = ""
    page = Paginator(selectors.client_list(search=search, status=status), 50).get_page(
        request.GET.get("page")
    )
    rows = [
        (client, [selectors.ContactCard.of(c, None) for c in client.contacts.all()[:2]])
        for client in page.object_list
    ]
    return render(
        request,
        "salesflow/clients/client_list.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "status": status,
            "statuses": Client.Status.choices,
            "can_export": request.user.has_perm(EXPORT_CLIENTS),
            "can_add_lead": request.user.has_perm(ADD_LEAD),
        },
    )


def _card_page(
    request: HttpRequest,
    client_id: int,
    revealed: dict[int, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    client = selectors.client_for_card(client_id=client_id)
    if client is None:
        raise Http404(_("No such client."))
    if client.merged_into_id is not None:
        return HttpResponseRedirect(reverse("clients:detail", args=[client.merged_into_id]))
    card = selectors.client_card(client=client, user=request.user, revealed=revealed)
    response = render(
        request,
        "salesflow/clients/client_detail.html",
        {"card": card, "client": client},
        status=status,
    )
    response["Cache-Control"] = "no-store"  # revealed contacts stay out of caches
    return response


@require_http_methods(["GET"])
def client_detail(request: HttpRequest, client_id: int) -> HttpResponse:
    return _card_page(request, client_id)


@require_POST
def contact_reveal(request: HttpRequest, client_id: int, contact_id: int) -> HttpResponse:
    """Show one contact in full on the client's page (audited); answers with the page
    itself rather than a redirect, so the revealed values are never in a URL or a cache."""
    try:
        revealed = services.contact_reveal(contact_id=contact_id, user=person(request))
    except SalesflowError as error:
        messages.error(request, error.message)
        return _card_page(request, client_id, status=error.status)
    if revealed.contact.client_id != client_id:
        raise Http404(_("No such contact at this client."))
    fields = {
        name
        for name, masked in (("phone", revealed.phone_masked), ("email", revealed.email_masked))
        if not masked
    }
    return _card_page(request, client_id, revealed={revealed.contact.pk: fields})


@require_POST
def client_export(request: HttpRequest) -> StreamingHttpResponse:
    try:
        lines = services.clients_export(user=person(request))
    except SalesflowError as error:
        raise PermissionDenied(error.message) from None
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="clients-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
