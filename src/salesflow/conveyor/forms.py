"""Forms of the stage page: the stage's own fields, the handoff note, the bounce.

Forms parse input; the services in ``services.py`` decide and write. The same form class
validates a stage whether the input comes from the page, the API or the simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from salesflow.handoff.templates import BOUNCE_TEMPLATE, DATE, HandoffTemplate

if TYPE_CHECKING:
    from .stage import StageWork


class StageForm(forms.Form):
    """Base class of a stage's form (declared by the flow on its ``Stage``)."""

    # the stage page's button; a stage that hands nothing over says what it does instead
    submit_label = _("Complete and hand over")

    def __init__(self, *args: Any, work: StageWork, **kwargs: Any) -> None:
        self.work = work
        super().__init__(*args, **kwargs)
        if not self.is_bound:  # what the page shows; a submission brings its own values
            self.initial = {**self.initial_from(work), **self.initial}

    def initial_from(self, work: StageWork) -> dict[str, Any]:
        """Values to show when the page opens (e.g. the order's current terms)."""
        return {}

    def handoff_required(self) -> bool:
        """Whether this completion hands the deal to another role (then the stage's
        handoff template must be filled in). Called on a valid form."""
        return True

    def reason(self) -> str:
        """A line for the audit trail explaining the outcome, if the stage has one."""
        return ""


class HandoffForm(forms.Form):
    """The fields of a handoff template, for the page. The template validates the note in
    the service; this form only renders it and carries the service's errors back."""

    text = forms.CharField(
        label=_("Anything else the next person should know"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, template: HandoffTemplate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        fields = {}
        for spec in template.fields:
            if spec.kind == DATE:
                field: forms.Field = forms.DateField(
                    widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
                )
            else:
                field = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
            field.label = spec.label
            field.help_text = spec.help_text
            field.required = False  # the template says what is required, with its reasons
            fields[spec.name] = field
        self.fields = {**fields, "text": self.fields["text"]}

    def note_fields(self) -> dict[str, Any]:
        """The raw template fields as submitted (prefix stripped)."""
        return {
            spec.name: self.data.get(self.add_prefix(spec.name), "")
            for spec in self.template.fields
        }

    def note_text(self) -> str:
        return str(self.data.get(self.add_prefix("text"), ""))


def bounce_form(*args: Any, **kwargs: Any) -> HandoffForm:
    return HandoffForm(*args, template=BOUNCE_TEMPLATE, prefix="bounce", **kwargs)


class UnassignForm(forms.Form):
    """Giving a task back to its pool: why (``queues.claims.task_unassign`` requires it)."""

    reason = forms.CharField(
        label=_("Why are you giving it back?"),
        help_text=_("The next person and the team leads read it."),
        required=False,  # the service says what a reason needs, for the API alike
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
