"""The scorecard pages, in the site as their own application ("Targets").

Thin: parse the period (and, for a team lead, whose), call one access helper, render. A
refusal is a 403 with its message; a bad period a 400 saying how to write one.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views import View
from viewflow.urls import Application

from salesflow.exceptions import NotPermitted, SalesflowError

from .access import (
    access_person,
    access_scorecard,
    access_team_grid,
    is_team_lead,
    require_team_lead,
)
from .dependence import MINIMUM_WORK, THRESHOLD, dependence
from .measures import MEASURES
from .periods import MONTH, WEEK, Period, period_containing, period_parse
from .selectors import evidence
from .services import goal_set, goal_tick


class PeriodForm(forms.Form):
    period = forms.CharField(
        label=gettext_lazy("Period"),
        required=False,
        help_text=gettext_lazy("A day (2026-12-07), an ISO week (2026-W49) or a month (2026-12)."),
    )
    person = forms.IntegerField(required=False, widget=forms.HiddenInput)


class GoalForm(forms.Form):
    person = forms.IntegerField(widget=forms.HiddenInput)
    what = forms.CharField(label=gettext_lazy("What"), max_length=300)
    measure = forms.ChoiceField(label=gettext_lazy("Measure"), required=False)
    target = forms.DecimalField(label=gettext_lazy("Target"), max_digits=14, decimal_places=2)
    deadline = forms.DateField(
        label=gettext_lazy("Deadline"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        measure = self.fields["measure"]
        assert isinstance(measure, forms.ChoiceField)
        measure.choices = [("", gettext_lazy("ticked by the team lead"))] + [
            (code, measure.title) for code, measure in MEASURES.items()
        ]


def _period(request: HttpRequest, default_kind: str) -> tuple[PeriodForm, Period | None, str]:
    form = PeriodForm(request.GET)
    form.is_valid()
    text = form.cleaned_data.get("period") or ""
    if not text:
        return form, period_containing(default_kind, timezone.localdate()), ""
    try:
        return form, period_parse(text), ""
    except SalesflowError as error:
        return form, None, error.message


def _refused(error: SalesflowError) -> None:
    if isinstance(error, NotPermitted):
        raise PermissionDenied(error.message)


class ScorecardView(View):
    """A person's scorecard: their own, or (for a team lead) anyone's (``?person=``)."""

    template_name = "salesflow/targets/scorecard.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form, period, problem = _period(request, WEEK)
        context: dict[str, Any] = {"form": form, "team_lead": is_team_lead(request.user)}
        if period is None:
            context["refusal"] = problem
            return render(request, self.template_name, context, status=400)
        try:
            card = access_scorecard(
                viewer=request.user, person_id=form.cleaned_data.get("person"), period=period
            )
        except SalesflowError as error:
            _refused(error)
            raise
        context.update(card=card, goal_form=GoalForm(initial={"person": card.person.pk}))
        return render(request, self.template_name, context)


class TeamGridView(View):
    """The team lead's grid: everyone's attainment for the period, worst first."""

    template_name = "salesflow/targets/team.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        form, period, problem = _period(request, MONTH)
        context: dict[str, Any] = {"form": form}
        if period is None:
            context["refusal"] = problem
            return render(request, self.template_name, context, status=400)
        try:
            grid = access_team_grid(viewer=request.user, period=period)
        except SalesflowError as error:
            _refused(error)
            raise
        measures = []
        for card in grid:
            for line in card.lines:
                if line.measure not in measures:
                    measures.append(line.measure)
        rows = [
            (card, [next((x for x in card.lines if x.measure == m), None) for m in measures])
            for card in grid
        ]
        context.update(period=period, measures=measures, rows=rows)
        return render(request, self.template_name, context)


class EvidenceView(View):
    """What counts toward one figure: the activities or stages behind it, with links."""

    template_name = "salesflow/targets/evidence.html"

    def get(self, request: HttpRequest, measure: str) -> HttpResponse:
        form, period, problem = _period(request, WEEK)
        if period is None or measure not in MEASURES:
            return render(request, self.template_name, {"refusal": problem or measure}, status=400)
        try:
            person = access_person(viewer=request.user, person_id=form.cleaned_data.get("person"))
        except SalesflowError as error:
            _refused(error)
            raise
        context = {
            "person": person,
            "period": period,
            "measure": MEASURES[measure],
            "rows": evidence(person=person, code=measure, period=period),
        }
        return render(request, self.template_name, context)


class GoalSetView(View):
    """A team lead sets a SMART goal for a person (POST from the scorecard)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        form = GoalForm(request.POST)
        if not form.is_valid():
            return render(
                request, "salesflow/targets/scorecard.html", {"goal_form": form}, status=400
            )
        data = form.cleaned_data
        try:
            person = access_person(viewer=request.user, person_id=data["person"])
            goal_set(
                lead=request.user,
                person=person,
                what=data["what"],
                measure=data["measure"],
                target=data["target"],
                deadline=data["deadline"],
            )
        except SalesflowError as error:
            _refused(error)
            return render(
                request,
                "salesflow/targets/scorecard.html",
                {"goal_form": form, "refusal": error.message},
                status=error.status,
            )
        url = reverse("targets:scorecard") + f"?person={person.pk}"
        return HttpResponseRedirect(url)


class GoalTickView(View):
    def post(self, request: HttpRequest, goal_id: int) -> HttpResponse:
        try:
            goal = goal_tick(lead=request.user, goal_id=goal_id)
        except SalesflowError as error:
            _refused(error)
            return render(
                request,
                "salesflow/targets/scorecard.html",
                {"refusal": error.message},
                status=error.status,
            )
        return HttpResponseRedirect(reverse("targets:scorecard") + f"?person={goal.person_id}")


class DependenceView(View):
    """Clients that depend on one person, with who (team leads)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        try:
            require_team_lead(request.user)
        except SalesflowError as error:
            _refused(error)
            raise
        context = {"result": dependence(), "threshold": THRESHOLD, "minimum": MINIMUM_WORK}
        return render(request, "salesflow/targets/dependence.html", context)


def _signed_in(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active)


class TargetsApplication(Application):
    """ "Targets" in the site's menu: everyone's own scorecard; the team grid for leads."""

    title = gettext_lazy("Targets")
    icon = "flag"
    app_name = "targets"
    menu_template_name = "salesflow/targets/menu.html"
    permission = staticmethod(_signed_in)

    scorecard_path = path("", ScorecardView.as_view(), name="scorecard")
    team_path = path("team/", TeamGridView.as_view(), name="team")
    evidence_path = path("evidence/<str:measure>/", EvidenceView.as_view(), name="evidence")
    goal_path = path("goals/", GoalSetView.as_view(), name="goal_set")
    dependence_path = path("dependence/", DependenceView.as_view(), name="dependence")
    tick_path = path("goals/<int:goal_id>/tick/", GoalTickView.as_view(), name="goal_tick")
