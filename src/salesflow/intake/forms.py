"""What a lead must say before the intake takes it, whichever channel it came through.

``LeadForm`` is the one set of rules: the public web form, a person entering a lead, each
row of an imported file and the API's serializer all validate with it, so a lead refused
in one channel is refused, with the same words, in every other.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from salesflow.clients import normalize

from .services import LeadData

TAX_PROBLEMS = {
    normalize.InnProblem.FORMAT: _("Enter the tax number as digits (an INN has 10 or 12)."),
    normalize.InnProblem.LENGTH: _(
        "An INN has 10 digits (an organisation) or 12 (a person), not %(count)d."
    ),
    normalize.InnProblem.CHECKSUM: _(
        "This INN's check digit does not match its other digits: look for a typo."
    ),
}


class LeadForm(forms.Form):
    company = forms.CharField(label=_("Company"), max_length=200)
    contact_name = forms.CharField(label=_("Contact person"), max_length=200, required=False)
    position = forms.CharField(label=_("Position"), max_length=200, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=50, required=False)
    email = forms.EmailField(label=_("E-mail"), max_length=254, required=False)
    tax_number = forms.CharField(label=_("Tax number (INN)"), max_length=20, required=False)
    request = forms.CharField(
        label=_("What is needed"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    source_detail = forms.CharField(
        label=_("Where it came from"),
        max_length=200,
        required=False,
        help_text=_("Campaign, exhibition, who recommended us."),
    )

    def clean_company(self) -> str:
        company: str = self.cleaned_data["company"].strip()
        if not normalize.name_key(company):
            raise forms.ValidationError(_("Enter the company's name."), code="company")
        return company

    def clean_phone(self) -> str:
        phone: str = self.cleaned_data["phone"].strip()
        if phone and normalize.parse_phone(phone) is None:
            raise forms.ValidationError(
                _("Enter a phone number with its area code, e.g. +7 900 123-45-67."),
                code="phone",
            )
        return phone

    def clean_tax_number(self) -> str:
        """An INN: 10 digits (an organisation) or 12 (a person) with the check digits of
        the official algorithm; grouped with any spaces (a spreadsheet's no-break ones
        too) or hyphens. Kept as its digits."""
        value: str = self.cleaned_data["tax_number"]
        problem = normalize.inn_problem(value)
        if problem is not None:
            raise forms.ValidationError(
                TAX_PROBLEMS[problem],
                code="tax_number",
                params={"count": len(normalize.tax_key(value))},
            )
        return normalize.tax_key(value)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if not self.errors and not data.get("phone") and not data.get("email"):
            raise forms.ValidationError(
                _("Leave a phone number or an e-mail, so that someone can answer."),
                code="no_contact",
            )
        return data

    def lead_data(self) -> LeadData:
        """The valid form as the intake takes it."""
        return LeadData(**{name: self.cleaned_data.get(name, "") for name in LEAD_FIELDS})


LEAD_FIELDS = tuple(LeadForm.base_fields)


class WebLeadForm(LeadForm):
    """The public form on the company's site: what a visitor fills in. Its template adds
    a text field placed off-screen, ``HONEYPOT``, that people never see and bots fill in."""

    HONEYPOT = "website"

    field_order = ["company", "contact_name", "phone", "email", "tax_number", "request"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["position"]
        del self.fields["source_detail"]
        self.fields["contact_name"].label = _("Your name")
        self.fields["request"].label = _("What do you need?")

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get(self.HONEYPOT))


class DuplicateDecisionForm(forms.Form):
    MERGE = "merge"
    KEEP_APART = "keep_apart"

    action = forms.ChoiceField(
        choices=[(MERGE, _("Merge")), (KEEP_APART, _("Keep apart"))], widget=forms.HiddenInput
    )
    reason = forms.CharField(
        label=_("Why"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the audit trail with the decision."),
    )
