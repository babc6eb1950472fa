"""The audit trail is append-only: the ORM refuses to change or remove an event."""

import pytest

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record


@pytest.fixture
def event(db):
    return audit_record(action=AuditEvent.Action.CLAIM, actor=None, reason="taken")


def test_an_event_cannot_be_saved_again(event):
    event.reason = "rewritten"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).reason == "taken"


@pytest.mark.parametrize("operation", ["delete", "update"])
def test_events_cannot_be_deleted_or_updated_in_bulk(event, operation):
    with pytest.raises(TypeError, match="append-only"):
        if operation == "delete":
            AuditEvent.objects.all().delete()
        else:
            AuditEvent.objects.all().update(reason="rewritten")
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk, reason="taken").exists()
