"""Pay's pages, in viewflow's site as their own application ("Pay"): "My earnings" for
everyone -- with a "Dispute" button per line and the person's disputes with their
answers --, the team statement (team leads and admins) with its payroll exports, and
closing a month (admins). A dispute's decision is a task of the disputes flow, in the
team leads' pool (``salesflow.pay.disputes``). Thin: parse the month, check through
``access``, call one selector or service, render; a refusal shown with its message."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from viewflow.urls import Application

from salesflow.conveyor.registry import human_nodes
from salesflow.exceptions import NotPermitted, SalesflowError
from salesflow.web import person

from .access import access_statement, access_team, may_close
from .credit import ADJUSTMENT, ADVANCE, BASE, CLAWBACK, CREDIT, REFERRAL
from .disputes import disputes_of, line_key, month_disputes, pay_dispute_open
from .exports import CONTENT_TYPES, FORMATS, file_name, statement_file
from .selectors import Statement, current_month, parse_month, statement
from .services import pay_period_close

KIND_LABELS = {
    CREDIT: gettext_lazy("credit"),
    ADVANCE: gettext_lazy("advance"),
    CLAWBACK: gettext_lazy("clawback"),
    REFERRAL: gettext_lazy("referral"),
    ADJUSTMENT: gettext_lazy("adjustment"),
    BASE: gettext_lazy("base"),
}

NOTE_LABELS = {"bounce": gettext_lazy("part of the share moved by a bounce")}


def _month(request: HttpRequest) -> date | None:
    value = request.GET.get("period") or request.POST.get("period")
    if not value:
        return current_month()
    try:
        return parse_month(value)
    except ValueError:
        return None


def _stage_title(ref: str) -> str:
    node = human_nodes().get(ref)
    return str(node.task_title) if node is not None else ref


def _context(result: Statement) -> dict[str, Any]:
    rows = [
        {
            "line": line,
            "name": result.names.get(line.user_id, ""),
            "kind": KIND_LABELS.get(line.kind, line.kind),
            "stage": _stage_title(line.node) if line.node else "",
            # the engine's own marks are words of the data; a person's reason is shown as is
            "note": NOTE_LABELS.get(line.note, line.note),
        }
        for line in result.lines
    ]
    people = [
        {"name": result.names.get(user_id, ""), "total": total}
        for user_id, total in result.totals.items()
    ]
    return {"statement": result, "rows": rows, "people": people, "formats": FORMATS}


def _bad_month(request: HttpRequest, template: str) -> HttpResponse:
    return render(
        request,
        template,
        {"refusal": _("The month must be written as YYYY-MM, such as 2026-03.")},
        status=400,
    )


class MyEarningsView(LoginRequiredMixin, View):
    """The signed-in person's statement: this month so far by default."""

    template_name = "salesflow/pay/statement.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = person(request)
        month = _month(request)
        if month is None:
            return _bad_month(request, self.template_name)
        access_statement(viewer=user, person_id=user.pk)
        context = _context(statement(month=month, user_ids=[user.pk]))
        disputed = {
            view.dispute.line
            for view in disputes_of(user_id=user.pk, month=month)
            if view.dispute.status == view.dispute.Status.OPEN
        }
        for row in context["rows"]:
            line = row["line"]
            # a deal's line; the base and adjustments are disputed with the total
            row["disputable"] = line.process_id is not None
            row["disputed"] = row["disputable"] and line_key(line.process_id, line.node) in disputed
        context.update(
            mine=True,
            title=_("My earnings"),
            disputes=disputes_of(user_id=user.pk),
            total_disputed=line_key(None) in disputed,
        )
        return render(request, self.template_name, context)


class DisputeView(LoginRequiredMixin, View):
    """POST: the signed-in person disputes a line of their own statement (or its total),
    with a reason; the answer comes back on "My earnings"."""

    def post(self, request: HttpRequest) -> HttpResponse:
        user = person(request)
        month = _month(request)
        if month is None:
            return _bad_month(request, "salesflow/pay/statement.html")
        deal = request.POST.get("deal") or ""
        try:
            if deal and not deal.isdigit():
                raise SalesflowError(_("The deal must be a number."))
            pay_dispute_open(
                person=user,
                month=month,
                deal=int(deal) if deal else None,
                stage=request.POST.get("stage", ""),
                reason=request.POST.get("reason", ""),
            )
        except SalesflowError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request, _("Your dispute is with the team leads; their answer will show below.")
            )
        return redirect(f"../?period={month:%Y-%m}")


class TeamStatementView(LoginRequiredMixin, View):
    """Everyone's statement for a month (team leads and admins); admins close it here."""

    template_name = "salesflow/pay/statement.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = person(request)
        try:
            access_team(user)
        except NotPermitted as error:
            raise PermissionDenied(error.message) from None
        month = _month(request)
        if month is None:
            return _bad_month(request, self.template_name)
        context = _context(statement(month=month))
        disputes = month_disputes(month)
        context.update(
            mine=False,
            title=_("Team statement"),
            may_close=may_close(user),
            disputes=disputes,
            waiting=sum(1 for row in disputes if row.dispute.status == row.dispute.Status.OPEN),
        )
        return render(request, self.template_name, context)


class ExportView(LoginRequiredMixin, View):
    """The team statement as a payroll file: ``?period=YYYY-MM&format=json|csv|xlsx``."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = person(request)
        try:
            access_team(user)
        except NotPermitted as error:
            raise PermissionDenied(error.message) from None
        month = _month(request)
        file_format = request.GET.get("format", "csv")
        if month is None or file_format not in CONTENT_TYPES:
            return _bad_month(request, "salesflow/pay/statement.html")
        result = statement(month=month)
        response = HttpResponse(
            statement_file(result, file_format), content_type=CONTENT_TYPES[file_format]
        )
        response["Content-Disposition"] = f'attachment; filename="{file_name(result, file_format)}"'
        return response


class CloseView(LoginRequiredMixin, View):
    """POST: close the month (admins); the refusal, if any, shown on the team statement."""

    def post(self, request: HttpRequest) -> HttpResponse:
        user = person(request)
        month = _month(request)
        if month is None:
            return _bad_month(request, "salesflow/pay/statement.html")
        try:
            pay_period_close(month=month, user=user)
        except NotPermitted as error:
            raise PermissionDenied(error.message) from None
        except SalesflowError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("%(month)s is closed.") % {"month": f"{month:%Y-%m}"})
        return redirect(f"../team/?period={month:%Y-%m}")


class PayApplication(Application):
    """ "Pay" in the site's menu: everyone signed in sees their own earnings."""

    title = gettext_lazy("Pay")
    icon = "payments"
    app_name = "pay"
    menu_template_name = "salesflow/pay/menu.html"

    mine_path = path("", MyEarningsView.as_view(), name="mine")
    team_path = path("team/", TeamStatementView.as_view(), name="team")
    export_path = path("team/export/", ExportView.as_view(), name="export")
    close_path = path("close/", CloseView.as_view(), name="close")
    dispute_path = path("dispute/", DisputeView.as_view(), name="dispute")

    def has_view_permission(self, user: Any, obj: Any = None) -> bool:
        return bool(user.is_authenticated and user.is_active)
