"""What goes in and out of the API.

Input serializers check shape (types, lengths, no NUL characters); the business rules are
the engine's: a lead is validated by the same ``LeadForm`` as every other channel, a
stage's data by its stage form and a handoff note by its template, inside the services.
Output serializers read the selectors' cards, so a contact reaches a response only as the
``ContactCard`` the masking rules made of it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from viewflow.workflow.models import Task

from salesflow.clients.models import Client, Lead
from salesflow.clients.selectors import ClientCard, ContactCard, MatchKind
from salesflow.conveyor.registry import node_ref
from salesflow.conveyor.selectors import NoteView, lead_of
from salesflow.intake.forms import LeadForm
from salesflow.queues.terms import terms_of

from .activities import HandoverSerializer, handover_of

# --- input -----------------------------------------------------------------------------------


class LeadInSerializer(serializers.Serializer):
    company = serializers.CharField(max_length=200)
    contact_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    position = serializers.CharField(max_length=200, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    tax_number = serializers.CharField(max_length=20, required=False, allow_blank=True)
    request = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    source_detail = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The rules every channel applies (``LeadForm``), with its messages per field."""
        form = LeadForm(data=attrs)
        if not form.is_valid():
            raise serializers.ValidationError(
                {
                    "non_field_errors" if name == "__all__" else name: list(messages)
                    for name, messages in form.errors.items()
                }
            )
        self.lead_data = form.lead_data()
        return attrs


@extend_schema_field(
    {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}], "nullable": True}
)
class FormValueField(serializers.Field):
    """One value of a stage form: a string, number, true/false or null -- what a web form
    would post, as text. Anything nested is refused here rather than deep in a form."""

    default_error_messages = {
        "invalid": "Each value must be a string, a number, true/false or null.",
        "null_characters": "Null characters are not allowed.",
    }

    def to_internal_value(self, data: Any) -> str:
        if data is None:
            return ""
        if not isinstance(data, (str, int, float, bool)):
            self.fail("invalid")
        value = str(data)
        if "\x00" in value:
            self.fail("null_characters")
        return value[:10000]

    def to_representation(self, value: Any) -> Any:
        return value


class StageCompleteSerializer(serializers.Serializer):
    data = serializers.DictField(
        child=FormValueField(),
        required=False,
        help_text="The stage form's fields (see the task's stage_fields).",
    )
    handoff = serializers.DictField(
        child=serializers.CharField(max_length=5000, allow_blank=True),
        required=False,
        allow_null=True,
        help_text="The handoff note's fields (see the task's handoff_fields).",
    )
    note_text = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    acknowledge = serializers.BooleanField(
        required=False, help_text="Acknowledge the incoming note in the same step."
    )


class UnassignSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="Why the task goes back unfinished (required: the next person reads it).",
    )


class RevealSerializer(serializers.Serializer):
    task = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The task of yours for this client that is the reason (default: your oldest).",
    )


class BounceSerializer(serializers.Serializer):
    question = serializers.CharField(
        max_length=5000, help_text="What is missing or wrong: the sender must answer it."
    )
    note_text = serializers.CharField(max_length=5000, required=False, allow_blank=True)


# --- output: clients ---------------------------------------------------------------------------


class ContactSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="contact.pk")
    name = serializers.CharField(source="contact.name")
    position = serializers.CharField(source="contact.position")
    is_decision_maker = serializers.BooleanField(source="contact.is_decision_maker")
    phone = serializers.CharField(help_text="Masked unless you may see it in full.")
    email = serializers.CharField(help_text="Masked unless you may see it in full.")
    phone_masked = serializers.BooleanField()
    email_masked = serializers.BooleanField()
    can_reveal = serializers.BooleanField(help_text="POST /api/contacts/{id}/reveal/ would work.")


class ClientRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ClientListSerializer(serializers.Serializer):
    """A client in a list: contacts always masked (a list is a copy of the base)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Client.Status.choices)
    created = serializers.DateTimeField()
    lead_count = serializers.IntegerField()
    contacts = serializers.SerializerMethodField()

    @extend_schema_field(ContactSerializer(many=True))
    def get_contacts(self, client: Client) -> list[dict[str, Any]]:
        cards = [ContactCard.of(contact, None) for contact in client.contacts.all()]
        data: list[dict[str, Any]] = ContactSerializer(cards, many=True).data
        return data


class LegalSerializer(serializers.Serializer):
    legal_name = serializers.CharField()
    tax_number = serializers.CharField()
    legal_address = serializers.CharField()
    bank_details = serializers.CharField()


class ClientLeadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=Lead.Source.choices)
    source_detail = serializers.CharField()
    status = serializers.ChoiceField(choices=Lead.Status.choices)
    created = serializers.DateTimeField()
    process_id = serializers.IntegerField(allow_null=True)


class ClientDetailSerializer(serializers.Serializer):
    """A client's card as the caller may see it (see ``salesflow.clients.selectors``)."""

    id = serializers.IntegerField(source="client.pk")
    name = serializers.CharField(source="client.name")
    status = serializers.ChoiceField(source="client.status", choices=Client.Status.choices)
    website = serializers.CharField(source="client.website")
    created = serializers.DateTimeField(source="client.created")
    legal = LegalSerializer()
    legal_masked = serializers.BooleanField()
    contacts = ContactSerializer(many=True)
    leads = serializers.SerializerMethodField()

    @extend_schema_field(ClientLeadSerializer(many=True))
    def get_leads(self, card: ClientCard) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = ClientLeadSerializer(card.client.leads.all(), many=True).data
        return data


# --- output: leads -------------------------------------------------------------------------


class LeadOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=Lead.Source.choices)
    source_detail = serializers.CharField()
    status = serializers.ChoiceField(choices=Lead.Status.choices)
    created = serializers.DateTimeField()
    process_id = serializers.IntegerField(
        allow_null=True, help_text="Null while the lead waits for a duplicate decision."
    )


class LeadCreatedSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=[(kind.value, kind.value) for kind in MatchKind],
        help_text="new_client: hunters' pool; existing_client: the known client's (a "
        "customer's goes to the account pool); probable_duplicate: held for a team lead.",
    )
    reason = serializers.CharField(help_text="Why the intake matched it so.")
    lead = LeadOutSerializer()
    client = ClientRefSerializer(
        allow_null=True,
        help_text="Null when a phone or e-mail matched a known client: the intake never "
        "says whose contact it is.",
    )
    duplicate_review = serializers.IntegerField(allow_null=True)


# --- output: tasks -------------------------------------------------------------------------


class TaskLeadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=Lead.Source.choices)
    status = serializers.ChoiceField(choices=Lead.Status.choices)
    request = serializers.CharField()


class TaskSerializer(serializers.Serializer):
    """A task as a pool, an inbox or a claim sees it. Read from a task selected with
    ``selectors.TASK_RELATED``: no query per task."""

    id = serializers.IntegerField()
    process_id = serializers.IntegerField()
    stage = serializers.SerializerMethodField(help_text='Node reference, e.g. "conveyor.qualify".')
    stage_title = serializers.SerializerMethodField()
    status = serializers.CharField()
    owner = serializers.SerializerMethodField()
    created = serializers.DateTimeField()
    assigned = serializers.DateTimeField(allow_null=True)
    due = serializers.SerializerMethodField()
    priority = serializers.SerializerMethodField()
    client = serializers.SerializerMethodField()
    lead = serializers.SerializerMethodField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_stage(self, task: Task) -> str:
        return node_ref(task.flow_task)

    @extend_schema_field(OpenApiTypes.STR)
    def get_stage_title(self, task: Task) -> str:
        return str(task.flow_task.task_title)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_owner(self, task: Task) -> str | None:
        return task.owner.get_username() if task.owner_id else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_due(self, task: Task) -> str | None:
        due = terms_of(task).due
        return serializers.DateTimeField().to_representation(due) if due else None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_priority(self, task: Task) -> int | None:
        return terms_of(task).priority

    @extend_schema_field(ClientRefSerializer(allow_null=True))
    def get_client(self, task: Task) -> dict[str, Any] | None:
        lead = lead_of(task)
        return {"id": lead.client_id, "name": lead.client.name} if lead else None

    @extend_schema_field(TaskLeadSerializer(allow_null=True))
    def get_lead(self, task: Task) -> dict[str, Any] | None:
        lead = lead_of(task)
        return TaskLeadSerializer(lead).data if lead else None


class NoteFieldSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.CharField()


class NoteSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="note.pk")
    kind = serializers.CharField(source="note.kind")
    from_stage = serializers.CharField(source="from_title")
    to_stage = serializers.CharField(source="to_title")
    author = serializers.CharField(source="note.author.username")
    created = serializers.DateTimeField(source="note.created")
    acknowledged = serializers.DateTimeField(source="note.acknowledged", allow_null=True)
    fields = serializers.SerializerMethodField(method_name="note_fields")
    text = serializers.CharField(source="note.text")

    @extend_schema_field(NoteFieldSerializer(many=True))
    def note_fields(self, view: NoteView) -> list[dict[str, str]]:
        return [{"label": label, "value": value} for label, value in view.rows]


class FieldSpecSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    required = serializers.BooleanField()


class TaskDetailSerializer(TaskSerializer):
    """A task with what its page shows: the notes handed to this stage (the unread one
    first; withheld from who may not read them), the client's contacts as the caller may
    see them (masked: see POST /api/contacts/{id}/reveal/), and the fields a completion
    needs."""

    incoming_notes = serializers.SerializerMethodField()
    notes_withheld = serializers.SerializerMethodField()
    contacts = serializers.SerializerMethodField()
    stage_fields = serializers.SerializerMethodField()
    handoff_fields = serializers.SerializerMethodField()
    handover = serializers.SerializerMethodField(
        help_text="Why the task last changed hands (a team lead's move, an offboarding), "
        "with the reason; null if it never did. The client's history: "
        "GET /api/clients/{client.id}/timeline/."
    )

    @extend_schema_field(NoteSerializer(many=True))
    def get_incoming_notes(self, task: Task) -> list[dict[str, Any]]:
        notes: list[dict[str, Any]] = NoteSerializer(self.context["notes"] or [], many=True).data
        return notes

    @extend_schema_field(
        serializers.BooleanField(
            help_text="True: the notes carry the client's contact data and are read by the "
            "holder of one of its tasks (and, recorded, the roles that may reveal contacts)."
        )
    )
    def get_notes_withheld(self, task: Task) -> bool:
        return self.context["notes"] is None

    @extend_schema_field(ContactSerializer(many=True))
    def get_contacts(self, task: Task) -> list[dict[str, Any]]:
        card = self.context.get("card")
        data: list[dict[str, Any]] = (
            ContactSerializer(card.contacts, many=True).data if card else []
        )
        return data

    @extend_schema_field(FieldSpecSerializer(many=True))
    def get_stage_fields(self, task: Task) -> list[dict[str, Any]]:
        form_class = task.flow_task.form_class
        return [
            {"name": name, "label": str(field.label or name), "required": field.required}
            for name, field in form_class.base_fields.items()
        ]

    @extend_schema_field(FieldSpecSerializer(many=True))
    def get_handoff_fields(self, task: Task) -> list[dict[str, Any]]:
        template = task.flow_task.handoff
        if template is None:
            return []
        return [
            {"name": spec.name, "label": str(spec.label), "required": spec.required}
            for spec in template.fields
        ]

    @extend_schema_field(HandoverSerializer(allow_null=True))
    def get_handover(self, task: Task) -> dict[str, Any] | None:
        return handover_of(task)


class StageResultSerializer(serializers.Serializer):
    task = TaskSerializer()
    note = serializers.IntegerField(allow_null=True, help_text="The handoff note written.")
    outcome = serializers.CharField(allow_null=True)


class AcknowledgedSerializer(serializers.Serializer):
    acknowledged_note = serializers.IntegerField(
        allow_null=True, help_text="The note acknowledged (null: none was waiting)."
    )


class ClaimNextSerializer(serializers.Serializer):
    role = serializers.CharField(
        required=False,
        max_length=50,
        help_text="Only this role's pool (its code); all my pools if left out.",
    )


class ReportDaySerializer(serializers.Serializer):
    day = serializers.DateField(help_text="YYYY-MM-DD")
