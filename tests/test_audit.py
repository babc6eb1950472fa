"""The audit trail is append-only: the ORM refuses to change or remove an event, and so
does the database itself (a trigger on PostgreSQL and on the embedded SQLite)."""

import pytest

from salesflow.audit.models import AuditEvent
from salesflow.audit.services import audit_record


@pytest.fixture
def event(db):
    audit_record(action=AuditEvent.Action.CLAIM, actor=None, reason="taken", data={"n": 1})
    return AuditEvent.objects.get()


def test_an_event_is_recorded_with_what_it_was_given(event):
    assert (event.action, event.reason, event.data) == ("claim", "taken", {"n": 1})
    assert event.actor is None and event.created is not None


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


# --- the database itself keeps the trail append-only ----------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ],
)
def test_postgresql_refuses_raw_update_and_delete_of_an_event(event, statement):
    from django.db import DatabaseError, connection, transaction

    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk, reason="taken").exists()


def test_sqlite_the_embedded_default_refuses_them_too(tmp_path):
    """The embedded default migrated from scratch: its trigger refuses both statements."""
    import os
    import sqlite3
    import subprocess
    import sys

    database = tmp_path / "embedded.sqlite3"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "salesflow.settings",
        "SALESFLOW_VAR_DIR": str(tmp_path),
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "migrate", "--noinput", "-v0"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert migrated.returncode == 0, migrated.stderr
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO audit_auditevent (created, action, reason, data)"
            " VALUES ('2026-01-01', 'claim', 'taken', '{}')"
        )
        for statement in (
            "UPDATE audit_auditevent SET reason = 'rewritten'",
            "DELETE FROM audit_auditevent",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(statement)
        assert db.execute("SELECT reason FROM audit_auditevent").fetchall() == [("taken",)]
