"""What each stage must tell the next: one template per transition of the conveyor."""

from django.utils.translation import gettext_lazy as _

from salesflow.handoff.templates import DATE, HandoffField, HandoffTemplate

HUNTER_TO_ACCOUNT = HandoffTemplate(
    code="hunter_to_account",
    to_node="prepare_order",
    title=_("Hunter → account manager"),
    fields=(
        HandoffField("client_needs", _("What the client needs"), _("Products, volumes, why now.")),
        HandoffField(
            "decision_maker",
            _("Decision maker"),
            _("Name, position and how they prefer to be reached."),
            min_words=2,
        ),
        HandoffField("budget_and_terms", _("Budget and terms discussed")),
        HandoffField("next_step", _("Promised next step"), _("What the client was promised.")),
        HandoffField("next_step_date", _("Date of the next step"), kind=DATE),
    ),
)

ACCOUNT_TO_CLERK = HandoffTemplate(
    code="account_to_clerk",
    to_node="documents",
    title=_("Account manager → document clerk"),
    fields=(
        HandoffField("documents_needed", _("Documents the client expects")),
        HandoffField("payment_terms", _("Payment terms agreed")),
        HandoffField(
            "signatory", _("Who signs for the client"), _("Name and position."), min_words=2
        ),
    ),
)

CLERK_TO_EXPEDITOR = HandoffTemplate(
    code="clerk_to_expeditor",
    to_node="delivery",
    title=_("Document clerk → expeditor"),
    fields=(
        HandoffField("what_to_deliver", _("What goes to the client"), _("Goods and documents.")),
        HandoffField(
            "receiver", _("Who receives it, where and when"), _("Person, address, hours.")
        ),
        HandoffField("originals_to_return", _("Signed originals to bring back")),
    ),
)

EXPEDITOR_TO_ACCOUNT = HandoffTemplate(
    code="expeditor_to_account",
    to_node="follow_up",
    title=_("Expeditor → account manager"),
    fields=(
        HandoffField("delivery_result", _("How the delivery went")),
        HandoffField("client_remarks", _("What the client said")),
        HandoffField(
            "originals_status", _("Signed originals"), _("Returned, or what is outstanding.")
        ),
    ),
)
