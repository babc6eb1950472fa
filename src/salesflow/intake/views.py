"""Pages through which leads come in: the public web form (the only pages anyone may open
without signing in), a person entering a lead, and the team lead's probable duplicates.

Thin: parse, check the permission, call one intake service, render; a refusal
(``SalesflowError``) is shown with its message and status, nothing written.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from salesflow.clients import selectors
from salesflow.clients.models import Lead
from salesflow.exceptions import SalesflowError
from salesflow.models import ADD_LEAD, MERGE_CLIENTS
from salesflow.web import person

from . import services
from .forms import DuplicateDecisionForm, LeadForm, WebLeadForm

log = logging.getLogger(__name__)


# --- the public web form -------------------------------------------------------------------


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def web_form(request: HttpRequest) -> HttpResponse:
    """The company site's "leave a request" form: no sign-in, CSRF-protected (Django's
    middleware), limited per client address (``SALESFLOW_WEB_FORM_RATE``, counted in the
    shared cache), and a honeypot field that bots fill in and people never see."""
    if request.method == "GET":
        return render(request, "salesflow/clients/web_form.html", {"form": WebLeadForm()})
    if is_ratelimited(
        request,
        group="salesflow.web_form",
        key="ip",
        rate=settings.SALESFLOW_WEB_FORM_RATE,
        method="POST",
        increment=True,
    ):
        return render(request, "salesflow/clients/web_form.html", {"limited": True}, status=429)
    form = WebLeadForm(data=request.POST)
    if form.is_bot:
        log.warning("web form: honeypot filled in, submission dropped")
        return HttpResponseRedirect(reverse("web_form_thanks"))
    if not form.is_valid():
        return render(request, "salesflow/clients/web_form.html", {"form": form}, status=400)
    services.lead_receive(data=form.lead_data(), source=Lead.Source.WEB_FORM)
    return HttpResponseRedirect(reverse("web_form_thanks"))


@login_not_required
@require_http_methods(["GET"])
def web_form_thanks(request: HttpRequest) -> HttpResponse:
    return render(request, "salesflow/clients/web_form_thanks.html")


# --- a person enters a lead; a team lead decides probable duplicates ----------------------


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


@require_http_methods(["GET", "POST"])
def lead_new(request: HttpRequest) -> HttpResponse:
    """A person enters a lead they found; the intake says where it went."""
    _require(request, ADD_LEAD)
    form = LeadForm(data=request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.lead_enter(data=form.lead_data(), user=person(request))
        except SalesflowError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _outcome_message(result))
            if not result.discloses_client:  # found by a phone or e-mail: not whose
                return HttpResponseRedirect(reverse("clients:index"))
            return HttpResponseRedirect(reverse("clients:detail", args=[result.client.pk]))
    status = 400 if form.is_bound else 200
    return render(request, "salesflow/clients/lead_new.html", {"form": form}, status=status)


def _outcome_message(result: services.IntakeResult) -> str:
    if result.outcome == selectors.MatchKind.NEW_CLIENT:
        return _("A new client: the lead waits for a hunter.")
    if result.outcome == selectors.MatchKind.EXISTING_CLIENT:
        if result.lead.source in (Lead.Source.REPEAT_ORDER, Lead.Source.REACTIVATION):
            return _("A known customer (%(why)s): the lead went to the account managers.") % {
                "why": result.reason
            }
        return _("A known client (%(why)s): the lead waits for a hunter.") % {"why": result.reason}
    return _(
        "This may be a client we already have (%(why)s): a team lead decides before the "
        "lead goes on."
    ) % {"why": result.reason}


@require_http_methods(["GET"])
def duplicate_list(request: HttpRequest) -> HttpResponse:
    _require(request, MERGE_CLIENTS)
    reviews = list(selectors.open_duplicate_reviews()[:100])
    pairs = [
        (
            review,
            [selectors.ContactCard.of(c, None) for c in review.client.contacts.all()],
            [selectors.ContactCard.of(c, None) for c in review.candidate.contacts.all()],
        )
        for review in reviews
    ]
    return render(
        request,
        "salesflow/clients/duplicates.html",
        {"pairs": pairs, "form": DuplicateDecisionForm()},
    )


@require_POST
def duplicate_decide(request: HttpRequest, review_id: int) -> HttpResponse:
    form = DuplicateDecisionForm(data=request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to merge or to keep apart."))
        return HttpResponseRedirect(reverse("clients:duplicates"))
    decide = (
        services.duplicate_merge
        if form.cleaned_data["action"] == DuplicateDecisionForm.MERGE
        else services.duplicate_keep_apart
    )
    try:
        lead = decide(review_id=review_id, user=person(request), reason=form.cleaned_data["reason"])
    except SalesflowError as error:
        if error.status == 403:
            raise PermissionDenied(error.message) from None
        messages.error(request, error.message)
        return HttpResponseRedirect(reverse("clients:duplicates"))
    messages.success(request, _decision_message(decide, lead))
    return HttpResponseRedirect(reverse("clients:duplicates"))


def _decision_message(decide: Any, lead: Lead) -> str:
    if decide is services.duplicate_merge:
        return _("Merged: the lead goes on as %(client)s's.") % {"client": lead.client}
    return _("Kept apart: %(client)s is a new client; its lead waits for a hunter.") % {
        "client": lead.client
    }
