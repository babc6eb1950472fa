"""Pages of the company's memory: a client's timeline, an e-mail and its files, the stage
page's quick log and "write to the client", the triage list, the deals without a next step.

Thin: parse, check through ``access``, call one service or selector, render. A refusal
(``SalesflowError``) is shown with its message and status; nothing has been written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework.request import Request
from viewflow.workflow.models import Task

from salesflow.clients.masking import mask_email
from salesflow.clients.selectors import client_list
from salesflow.exceptions import NotFound, NotPermitted, SalesflowError
from salesflow.queues.access import access_task

from . import selectors
from .access import access_client, access_mail, may_triage, require_may_triage
from .capture import mail_send
from .forms import LogForm, MatchForm, QuickLogForm, SendMailForm
from .models import Activity, MailAttachment
from .paging import TimelinePages
from .services import activity_log, activity_log_on_task, activity_match_client
from .timeline import KINDS, client_timeline, parse_kinds


def _raise_for(error: SalesflowError) -> None:
    """Refusals a page shows as Django's own responses."""
    if isinstance(error, NotFound):
        raise Http404(error.message)
    if isinstance(error, NotPermitted):
        raise PermissionDenied(error.message)


def _say(request: HttpRequest, errors: Mapping[str, Iterable[Any]]) -> None:
    """Every message of a form's or a refusal's errors, as page messages."""
    for problems in errors.values():
        for problem in problems:
            messages.error(request, str(problem))


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"  # what a client said stays out of caches
    return response


# --- a client's timeline ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def timeline_page(request: HttpRequest, client_id: int) -> HttpResponse:
    try:
        client, viewer = access_client(user=request.user, client_id=client_id)
        kinds = parse_kinds(request.GET.getlist("kind"))
    except SalesflowError as error:
        _raise_for(error)
        raise
    if client.pk != client_id:  # merged into another: its history is there
        return HttpResponseRedirect(reverse("activities:timeline", args=[client.pk]))
    form = LogForm(data=request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                activity_log(
                    user=request.user,  # type: ignore[arg-type]
                    client=client,
                    kind=data["kind"],
                    direction=data["direction"],
                    text=data["text"],
                    outcome=data["outcome"],
                    next_step=data["next_step"],
                    next_step_date=data["next_step_date"],
                )
            except SalesflowError as error:
                messages.error(request, error.message)
                for name, problems in error.errors.items():
                    for problem in problems:
                        form.add_error(name if name in form.fields else None, problem)
                status = error.status
            else:
                messages.success(request, _("Recorded on the timeline."))
                return HttpResponseRedirect(request.get_full_path())
        else:
            status = 400
    pages = TimelinePages()
    try:
        entries = pages.paginate_queryset(
            client_timeline(client=client, viewer=viewer, kinds=kinds), Request(request)
        )
    except SalesflowError as error:
        _raise_for(error)
        raise
    response = render(
        request,
        "salesflow/activities/timeline.html",
        {
            "client": client,
            "viewer": viewer,
            "entries": entries,
            "kinds": [
                (code, label)
                for code, label in KINDS.items()
                if code != "access" or viewer.watches_access
            ],  # fmt: skip
            "chosen": kinds,
            "next_link": pages.get_next_link(),
            "previous_link": pages.get_previous_link(),
            "form": form if viewer.may_log else None,
        },
        status=status,
    )
    return _private(response)


# --- an e-mail ------------------------------------------------------------------------------------


def mail_page(request: HttpRequest, mail_id: int) -> HttpResponse:
    try:
        mail, viewer = access_mail(user=request.user, mail_id=mail_id)
    except SalesflowError as error:
        _raise_for(error)
        raise
    if viewer is not None and not viewer.reads_details:
        raise PermissionDenied(
            _("What a client wrote is for the people working on the client and the team leads.")
        )
    masked = viewer is not None and not viewer.sees("email")
    shown = mask_email if masked else str
    response = render(
        request,
        "salesflow/activities/mail.html",
        {
            "mail": mail,
            "masked": masked,
            "from_shown": shown(mail.from_address),
            "to_shown": [shown(a) for a in [*mail.to_addresses, *mail.cc_addresses]],
            "attachments": selectors.mail_attachments(mail=mail),
            "thread": selectors.mail_thread(mail=mail),
            "clients": Activity.objects.filter(mail=mail, client__isnull=False)
            .select_related("client")
            .order_by("client__name"),
        },
    )
    return _private(response)


def attachment_download(request: HttpRequest, mail_id: int, attachment_id: int) -> HttpResponse:
    try:
        mail, viewer = access_mail(user=request.user, mail_id=mail_id)
    except SalesflowError as error:
        _raise_for(error)
        raise
    if viewer is not None and not viewer.reads_details:
        raise PermissionDenied
    attachment = MailAttachment.objects.filter(pk=attachment_id, mail=mail).first()
    if attachment is None:
        raise Http404(_("No such file in this e-mail."))
    if attachment.content is None:
        raise Http404(_("This file was not kept: %(why)s") % {"why": attachment.skipped})
    response = HttpResponse(bytes(attachment.content), content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition_header(True, attachment.filename)
    response["X-Content-Type-Options"] = "nosniff"
    return _private(response)


# --- from the stage page ----------------------------------------------------------------------


def _task(request: HttpRequest, task_id: int) -> Task:
    try:
        return access_task(user=request.user, task_id=task_id)
    except SalesflowError as error:
        _raise_for(error)
        raise


def _stage_url(task: Task) -> str:
    return str(task.flow_task.reverse("execute", args=[task.process_id, task.pk]))


@require_POST
def task_log(request: HttpRequest, task_id: int) -> HttpResponse:
    """The quick log of the stage page: a call or a meeting (the button), in a few words."""
    task = _task(request, task_id)
    form = QuickLogForm(data=request.POST)
    kind = request.POST.get("kind", "")
    if kind not in QuickLogForm.KINDS:
        messages.error(request, _("Say whether it was a call or a meeting."))
    elif not form.is_valid():
        _say(request, form.errors)
    else:
        try:
            activity_log_on_task(
                task=task,
                user=request.user,  # type: ignore[arg-type]
                kind=kind,
                text=form.cleaned_data["text"],
                direction=Activity.Direction.OUT if kind == Activity.Kind.CALL else "",
                next_step_date=form.cleaned_data["next_step_date"],
            )
        except SalesflowError as error:
            messages.error(request, error.message)
            _say(request, error.errors)
        else:
            messages.success(request, _("Recorded on the client's timeline."))
    return HttpResponseRedirect(_stage_url(task))


@require_POST
def task_send(request: HttpRequest, task_id: int) -> HttpResponse:
    """ "Write to the client" on the stage page: sent as the company, logged on the timeline."""
    task = _task(request, task_id)
    form = SendMailForm(data=request.POST)
    if not form.is_valid():
        _say(request, form.errors)
        return HttpResponseRedirect(_stage_url(task))
    try:
        mail_send(
            task=task,
            user=request.user,  # type: ignore[arg-type]
            contact_id=form.cleaned_data["contact"],
            subject=form.cleaned_data["subject"],
            text=form.cleaned_data["text"],
        )
    except SalesflowError as error:
        messages.error(request, error.message)
        _say(request, error.errors)
    else:
        messages.success(request, _("Sent from the company's address and recorded."))
    return HttpResponseRedirect(_stage_url(task))


# --- the team leads' lists --------------------------------------------------------------------


def triage_page(request: HttpRequest) -> HttpResponse:
    """Mail and calls that matched no client: say whose each is."""
    if not may_triage(request.user):
        raise PermissionDenied(_("Mail and calls that matched no client are for the team leads."))
    page = Paginator(selectors.unmatched_activities(), 50).get_page(request.GET.get("page"))
    return _private(
        render(request, "salesflow/activities/triage.html", {"page": page, "form": MatchForm()})
    )


@require_POST
def triage_match(request: HttpRequest, activity_id: int) -> HttpResponse:
    try:
        require_may_triage(request.user)
    except SalesflowError as error:
        _raise_for(error)
        raise
    form = MatchForm(data=request.POST)
    if form.is_valid():
        found = list(client_list(search=form.cleaned_data["client"])[:2])
        if len(found) != 1:
            messages.error(
                request,
                _("No client matches “%(text)s”.") % {"text": form.cleaned_data["client"]}
                if not found
                else _("Several clients match “%(text)s”: give the tax number or the full name.")
                % {"text": form.cleaned_data["client"]},
            )
        else:
            try:
                activity = activity_match_client(
                    activity_id=activity_id,
                    client=found[0],
                    by=request.user,  # type: ignore[arg-type]
                )
            except SalesflowError as error:
                messages.error(request, error.message)
            else:
                messages.success(
                    request,
                    _("On the timeline of %(client)s now.") % {"client": activity.client},
                )
    else:
        messages.error(request, _("Say whose it is: a client's name or tax number."))
    return HttpResponseRedirect(reverse("activities:triage"))


def quiet_deals_page(request: HttpRequest) -> HttpResponse:
    """Open deals with no activity and no next step for longer than their role allows."""
    if not may_triage(request.user):
        raise PermissionDenied(_("The list of deals without a next step is for the team leads."))
    deals = selectors.deals_without_next_step()
    language = getattr(request, "LANGUAGE_CODE", "en")
    rows = [(deal, deal.role.title_for(language)) for deal in deals]
    return render(request, "salesflow/activities/quiet_deals.html", {"rows": rows})


def index(request: HttpRequest) -> HttpResponse:
    """The team leads' lists; for everyone else, the client base (a timeline is a client's)."""
    if may_triage(request.user):
        return HttpResponseRedirect(reverse("activities:triage"))
    return HttpResponseRedirect(reverse("clients:index"))
