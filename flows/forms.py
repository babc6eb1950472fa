"""The conveyor's stage forms: each stage's own fields and their rules."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from salesflow.activities.reminders import reminder_for_process
from salesflow.clients.models import Contact, Lead
from salesflow.conveyor.forms import StageForm
from salesflow.conveyor.stage import StageWork

from .models import DataIssue, SideTask


class QualifyForm(StageForm):
    OUTCOMES = [
        (Lead.Status.QUALIFIED, _("Qualified: hand over to an account manager")),
        (Lead.Status.DISQUALIFIED, _("Disqualified")),
        (Lead.Status.NURTURE, _("Not now: come back on a date")),
    ]

    outcome = forms.ChoiceField(label=_("Outcome"), choices=OUTCOMES, widget=forms.RadioSelect)
    disqualification_reason = forms.CharField(
        label=_("Why disqualified"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    nurture_until = forms.DateField(
        label=_("Come back on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        outcome = data.get("outcome")
        if (
            outcome == Lead.Status.DISQUALIFIED
            and not (data.get("disqualification_reason") or "").strip()
        ):
            self.add_error("disqualification_reason", _("Say why the lead is disqualified."))
        if outcome == Lead.Status.NURTURE:
            until = data.get("nurture_until")
            if until is None:
                self.add_error("nurture_until", _("Say when to come back to this lead."))
            elif until <= timezone.localdate():
                self.add_error("nurture_until", _("The date to come back must be in the future."))
        return data

    def handoff_required(self) -> bool:
        return bool(self.cleaned_data["outcome"] == Lead.Status.QUALIFIED)

    def reason(self) -> str:
        outcome = self.cleaned_data["outcome"]
        if outcome == Lead.Status.DISQUALIFIED:
            return str(self.cleaned_data["disqualification_reason"]).strip()
        if outcome == Lead.Status.NURTURE:
            return str(_("Back on %(date)s") % {"date": self.cleaned_data["nurture_until"]})
        return ""


class PrepareOrderForm(StageForm):
    ORDER = "order"
    NO_ORDER = "no_order"
    OUTCOMES = [
        (ORDER, _("The client orders: hand over to the document clerk")),
        (NO_ORDER, _("The client does not order")),
    ]
    ORDER_FIELDS = ("specification", "amount", "discount", "terms", "delivery_address")

    outcome = forms.ChoiceField(
        label=_("Outcome"), choices=OUTCOMES, initial=ORDER, widget=forms.RadioSelect
    )
    specification = forms.CharField(
        label=_("Specification"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    amount = forms.DecimalField(
        label=_("Amount"), max_digits=14, decimal_places=2, min_value=0.01, required=False
    )
    discount = forms.DecimalField(
        label=_("Discount, %"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        initial=0,
        required=False,
    )
    terms = forms.CharField(
        label=_("Commercial terms"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    delivery_address = forms.CharField(
        label=_("Delivery address"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    delivery_date = forms.DateField(
        label=_("Planned delivery date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    lost_reason = forms.CharField(
        label=_("Why the client does not order"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def initial_from(self, work: StageWork) -> dict[str, Any]:
        order = work.order
        if order is None:
            return {"delivery_address": work.client.legal_address if work.client else ""}
        return {name: getattr(order, name) for name in (*self.ORDER_FIELDS, "delivery_date")}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("outcome") == self.NO_ORDER:
            if not (data.get("lost_reason") or "").strip():
                self.add_error("lost_reason", _("Say why the client does not order."))
            return data
        for name in self.ORDER_FIELDS:
            if data.get(name) in (None, ""):
                self.add_error(name, _("This field is required for an order."))
        return data

    def handoff_required(self) -> bool:
        return bool(self.cleaned_data["outcome"] == self.ORDER)

    def reason(self) -> str:
        if self.cleaned_data["outcome"] == self.NO_ORDER:
            return str(self.cleaned_data["lost_reason"]).strip()
        return ""


class ApprovalForm(StageForm):
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def handoff_required(self) -> bool:
        return False

    def reason(self) -> str:
        return str(self.cleaned_data.get("comment", "")).strip()


class DocumentsForm(StageForm):
    contract_signed = forms.BooleanField(label=_("Contract signed"), required=False)
    invoice_issued = forms.BooleanField(label=_("Invoice issued"), required=False)
    closing_acts_prepared = forms.BooleanField(label=_("Closing acts prepared"), required=False)

    def initial_from(self, work: StageWork) -> dict[str, Any]:
        order = work.order
        return {name: getattr(order, name) for name in self.base_fields} if order else {}

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        missing = [str(self.fields[name].label) for name in self.fields if not data.get(name)]
        if missing:
            raise forms.ValidationError(
                _(
                    "The documents are not complete: %(missing)s. Finish them, or send the "
                    "order back to the account manager with a question."
                ),
                params={"missing": ", ".join(missing)},
                code="documents_incomplete",
            )
        return data


class DeliveryForm(StageForm):
    delivered_on = forms.DateField(
        label=_("Delivered on"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    originals_returned = forms.BooleanField(label=_("Signed originals returned"), required=False)

    def clean_delivered_on(self) -> date:
        value: date = self.cleaned_data["delivered_on"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("A delivery cannot be recorded in the future."))
        return value


class FollowUpForm(StageForm):
    CLOSED = "closed"
    REPEAT = "repeat_order"
    OUTCOMES = [(CLOSED, _("Done: the client is served")), (REPEAT, _("The client orders again"))]

    outcome = forms.ChoiceField(label=_("Outcome"), choices=OUTCOMES, widget=forms.RadioSelect)
    feedback = forms.CharField(
        label=_("Client's feedback"), widget=forms.Textarea(attrs={"rows": 2})
    )
    repeat_request = forms.CharField(
        label=_("What the client wants next"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("outcome") == self.REPEAT and not (data.get("repeat_request") or "").strip():
            self.add_error("repeat_request", _("Say what the client wants to order next."))
        return data

    def handoff_required(self) -> bool:
        return False

    def reason(self) -> str:
        return str(self.cleaned_data["feedback"]).strip()


class ReminderForm(StageForm):
    """A next step done: what happened (recorded on the client's timeline), and the next
    one, if there is one."""

    KINDS = [
        ("call", _("Call")),
        ("meeting", _("Meeting")),
        ("proposal", _("Proposal sent")),
        ("note", _("Note")),
    ]

    kind = forms.ChoiceField(label=_("What it was"), choices=KINDS, initial="call")
    text = forms.CharField(
        label=_("What happened"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000
    )
    next_step = forms.CharField(label=_("Next step"), required=False, max_length=300)
    next_step_date = forms.DateField(
        label=_("Next step on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        reminder = reminder_for_process(self.work.task.process)
        if reminder is not None:
            self.fields["text"].help_text = _("Promised for %(day)s: %(what)s") % {
                "day": date_format(reminder.due, "SHORT_DATE_FORMAT"),
                "what": reminder.what,
            }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("next_step") or "").strip() and data.get("next_step_date") is None:
            self.add_error("next_step_date", _("Give the next step a date."))
        return data

    def handoff_required(self) -> bool:
        return False


class SideTaskForm(StageForm):
    """A side task done: what came of it (goes back to whoever holds the stage, and on
    the client's timeline). The brief is shown above the field."""

    result = forms.CharField(
        label=_("Result"),
        help_text=_("What was done: it goes back to whoever holds the stage now."),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        side_task = SideTask.objects.filter(process_id=self.work.task.process_id).first()
        if side_task is not None:
            self.fields["result"].help_text = _("The brief (%(kind)s): %(brief)s") % {
                "kind": side_task.kind,
                "brief": side_task.brief,
            }

    def clean_result(self) -> str:
        result = str(self.cleaned_data["result"]).strip()
        if not result:
            raise forms.ValidationError(_("Write what came of it."))
        return result


class SideTaskRequestForm(forms.Form):
    """Handing a side task over from a stage page: the kind, the brief, wait or go on. The
    service checks the kind against the role files and refuses an empty brief."""

    kind = forms.CharField(label=_("Kind"), widget=forms.Select)
    brief = forms.CharField(
        label=_("Brief"),
        help_text=_("What the assistant must do, and by when."),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
    )
    wait = forms.BooleanField(
        label=_("The stage waits for it (it cannot be completed until the side task is done)"),
        required=False,
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].widget.choices = choices


class SideTaskCancelForm(forms.Form):
    reason = forms.CharField(label=_("Why cancel it?"), required=False, max_length=2000)


class DataFixForm(StageForm):
    """A data-quality task done: what was done (required), and the fix itself -- the
    decision on a probable duplicate, the card's tax number and decision maker, the client
    an unmatched message belongs to. Only the fields of the problem's kind are shown."""

    DECISIONS = [
        ("", _("(decide)")),
        ("merge", _("The same company: merge into the known client")),
        ("keep_apart", _("A different company: keep it apart")),
    ]

    decision = forms.ChoiceField(label=_("Probable duplicate"), choices=DECISIONS, required=False)
    tax_number = forms.CharField(label=_("Tax number"), required=False, max_length=20)
    decision_maker = forms.ChoiceField(label=_("Decision maker"), required=False, choices=[])
    match_client = forms.IntegerField(
        label=_("Client number"),
        required=False,
        min_value=1,
        help_text=_("Whose message or call this is (leave empty if nobody's, and say why)."),
    )
    note = forms.CharField(
        label=_("What was done"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        issue = DataIssue.objects.filter(process_id=self.work.task.process_id).first()
        kind = issue.kind if issue is not None else ""
        keep = {"note"}
        if kind == DataIssue.Kind.DUPLICATE:
            keep.add("decision")
        elif kind == DataIssue.Kind.UNMATCHED:
            keep.add("match_client")
        elif kind in (DataIssue.Kind.INCOMPLETE, DataIssue.Kind.UNREACHABLE):
            keep.update({"tax_number", "decision_maker"})
            contacts = (
                Contact.objects.filter(client_id=issue.client_id)
                if issue is not None and issue.client_id is not None
                else Contact.objects.none()
            )
            choice_field = self.fields["decision_maker"]
            assert isinstance(choice_field, forms.ChoiceField)
            choice_field.choices = [("", "-")] + [(str(c.pk), c.name) for c in contacts]
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if issue is not None:
            self.fields["note"].help_text = issue.detail

    def clean_note(self) -> str:
        note = str(self.cleaned_data["note"]).strip()
        if not note:
            raise forms.ValidationError(_("Say what was done."))
        return note

    def reason(self) -> str:
        return str(self.cleaned_data["note"])


class DisputeDecisionForm(StageForm):
    """A team lead's decision on a pay dispute: accept with an adjustment (its amount,
    negative to take pay back), or reject; either way the answer the person reads."""

    submit_label = _("Decide")
    ACCEPT, REJECT = "accept", "reject"
    DECISIONS = [
        (ACCEPT, _("Accept: pay an adjustment")),
        (REJECT, _("Reject: no money moves")),
    ]

    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS, widget=forms.RadioSelect)
    amount = forms.DecimalField(
        label=_("Adjustment, roubles"),
        required=False,
        max_digits=14,
        decimal_places=2,
        help_text=_(
            "Paid in the disputed month if it is open, else in the next open month. "
            "Negative to take pay back."
        ),
    )
    answer = forms.CharField(
        label=_("Answer"),
        help_text=_("The person reads it on their earnings page."),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("decision") == self.ACCEPT and not data.get("amount"):
            self.add_error("amount", _("An accepted dispute needs the adjustment's amount."))
        return data

    def reason(self) -> str:
        return str(self.cleaned_data.get("answer", ""))
