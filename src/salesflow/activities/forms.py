"""Forms of the company's memory: they parse, the services decide (``services``,
``capture``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Activity


class QuickLogForm(forms.Form):
    """The stage page's quick log: what happened and, if promised, the next step's date;
    the button says what it was (a call or a meeting)."""

    KINDS = (Activity.Kind.CALL, Activity.Kind.MEETING)

    text = forms.CharField(
        label=_("What happened"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("Agreed to send the price list")}),
    )
    next_step_date = forms.DateField(
        label=_("Next step on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class LogForm(forms.Form):
    """Logging on the timeline page: any kind a person logs, with its details."""

    kind = forms.ChoiceField(
        label=_("What it was"),
        choices=[
            (Activity.Kind.CALL, _("Call")),
            (Activity.Kind.MEETING, _("Meeting")),
            (Activity.Kind.PROPOSAL, _("Proposal sent")),
            (Activity.Kind.NOTE, _("Note")),
        ],
    )
    direction = forms.ChoiceField(
        label=_("Direction"),
        required=False,
        choices=[("", "—"), *Activity.Direction.choices],
    )
    text = forms.CharField(
        label=_("What happened"), max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    outcome = forms.CharField(label=_("Outcome"), required=False, max_length=300)
    next_step = forms.CharField(label=_("Next step"), required=False, max_length=300)
    next_step_date = forms.DateField(
        label=_("Next step on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


class SendMailForm(forms.Form):
    """Writing to a client's contact from a task (the company's address sends it)."""

    contact = forms.IntegerField(label=_("To"), widget=forms.Select)
    subject = forms.CharField(label=_("Subject"), max_length=300)
    text = forms.CharField(
        label=_("Message"), max_length=20000, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args: Any, contacts: list[tuple[int, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # the service checks the contact is the client's; the choices are for the page
        self.fields["contact"].widget.choices = contacts or []


class MatchForm(forms.Form):
    """The triage list: whose is it -- a client found by name or tax number."""

    client = forms.CharField(
        label=_("Client"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("Name or tax number")}),
    )
