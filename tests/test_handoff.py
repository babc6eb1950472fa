"""Handoff templates and notes: what counts as a note, who may acknowledge it."""

import pytest
from django.db import IntegrityError, transaction

from flows.handoffs import HUNTER_TO_ACCOUNT
from salesflow.conveyor import services
from salesflow.exceptions import NotPermitted
from salesflow.handoff.models import HandoffNote
from salesflow.handoff.templates import BOUNCE_TEMPLATE
from salesflow.queues import claims

from .conftest import open_task

FULL = {
    "client_needs": "twenty pumps for the new bottling line",
    "decision_maker": "Ivan Petrov, chief engineer",
    "budget_and_terms": "about two million, thirty days",
    "next_step": "send a quote with dates",
    "next_step_date": "2030-02-01",
}


def test_a_full_note_passes_and_is_stripped():
    clean, errors = HUNTER_TO_ACCOUNT.validate({**FULL, "next_step": "  send a quote with dates  "})
    assert errors == {}
    assert clean["next_step"] == "send a quote with dates"


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("client_needs", "", "required"),
        ("client_needs", "   ", "required"),
        ("client_needs", "N/A", "tells the next person nothing"),
        ("client_needs", "см. выше", "tells the next person nothing"),
        ("client_needs", "two pumps", "at least 3 words"),
        ("client_needs", "pumps pumps pumps pumps", "Repeating one word"),
        ("decision_maker", "Ivan", "at least 2 words"),
        ("next_step_date", "next week", "YYYY-MM-DD"),
    ],
)
def test_a_thin_or_malformed_field_gets_its_own_reason(field, value, message):
    _, errors = HUNTER_TO_ACCOUNT.validate({**FULL, field: value})
    assert list(errors) == [field]
    assert message in errors[field][0]


def test_unknown_fields_are_refused_not_dropped():
    _, errors = HUNTER_TO_ACCOUNT.validate({**FULL, "gossip": "the buyer is moving jobs soon"})
    assert "gossip" in errors["__all__"][0]


def test_russian_notes_count_words_too():
    _, errors = BOUNCE_TEMPLATE.validate(
        {"question": "кто подписывает договор со стороны клиента?"}
    )
    assert errors == {}


def test_the_database_refuses_an_author_acknowledging_their_own_note(new_lead, driver):
    lead = new_lead()
    driver().advance_to(lead.process_id, "prepare_order")
    note = HandoffNote.objects.get(process=lead.process)
    note.acknowledged_by = note.author
    note.acknowledged = note.created
    with pytest.raises(IntegrityError), transaction.atomic():
        note.save(update_fields=["acknowledged_by", "acknowledged"])


def test_the_author_cannot_acknowledge_through_the_service(new_lead, staff):
    """A person holding both roles hands over and is barred from receiving their own note."""
    both = staff["hunter"][0]
    lead = new_lead()
    task = open_task(lead)
    claims.task_claim(task=task, user=both)
    services.stage_complete(task=task, user=both, data={"outcome": "qualified"}, handoff=FULL)
    both.groups.add(staff["document_clerk"][0].groups.get())  # a role without the SoD rule
    prepare = open_task(lead)
    prepare.owner = both  # as if assigned by mistake: the service still refuses the note
    prepare.status = "ASSIGNED"
    prepare.owner_permission = ""
    prepare.save(update_fields=["owner", "status", "owner_permission"])
    with pytest.raises(NotPermitted, match="You wrote this handoff note"):
        services.stage_acknowledge(task=prepare, user=both)
    assert HandoffNote.objects.get(process=lead.process).acknowledged_by_id is None
