"""The audit table refuses UPDATE and DELETE in the database itself.

The model and its queryset already refuse both, but only for code that goes through them;
raw SQL, a bulk tool or a mistaken admin script would not. A trigger makes the trail
append-only for every client of the database. TRUNCATE is not covered: it is a
table-owner's operation (Django's ``flush``, the test runner), kept for them.
"""

from django.db import migrations

MESSAGE = "audit events are append-only: UPDATE and DELETE are refused"

POSTGRESQL = [
    (
        f"""
        CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
        END;
        $$ LANGUAGE plpgsql;
        CREATE TRIGGER audit_event_append_only
            BEFORE UPDATE OR DELETE ON audit_auditevent
            FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change();
        """,
        """
        DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
        DROP FUNCTION IF EXISTS audit_event_refuse_change();
        """,
    )
]
SQLITE = [
    (
        f"""
        CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
        """,
        "DROP TRIGGER IF EXISTS audit_event_no_update;",
    ),
    (
        f"""
        CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
        """,
        "DROP TRIGGER IF EXISTS audit_event_no_delete;",
    ),
]


def _statements(schema_editor):
    return {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(schema_editor.connection.vendor, [])


def create_triggers(apps, schema_editor):
    for create, _drop in _statements(schema_editor):
        schema_editor.execute(create)


def drop_triggers(apps, schema_editor):
    for _create, drop in reversed(_statements(schema_editor)):
        schema_editor.execute(drop)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_more_actions")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
