"""The database role the web app and the workers run as: everything it needs, and on the
audit trail only INSERT and SELECT.

The trigger of migration 0003 refuses UPDATE and DELETE of audit events for everyone, but
a table's owner can still TRUNCATE it, disable the trigger, or migrate the table away. So
production runs two roles: the *owner* (``salesflow migrate`` runs as it; it owns every
table) and the *runtime* role (gunicorn, Celery), which owns nothing. These statements,
run as the owner after every migrate (``salesflow db-runtime-role ROLE``), give the
runtime role what the application does -- read and write its tables, use their sequences,
the same on tables later migrations create -- and take back UPDATE, DELETE, TRUNCATE (and
TRIGGER, REFERENCES) on the audit table. Disabling a trigger needs ownership, which the
runtime role never has. ``tests/test_insider.py`` connects as such a role and proves it.
"""

from __future__ import annotations

import re

from salesflow.sqlnames import table

from .models import AuditEvent

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def runtime_role_statements(*, role: str, schema: str = "public") -> list[str]:
    """The GRANT/REVOKE statements for ``role`` (a plain lower-case PostgreSQL name; a
    ValueError otherwise). Idempotent: run them again after each migrate."""
    if not ROLE_NAME.match(role) or not ROLE_NAME.match(schema):
        raise ValueError(
            f"{role!r}/{schema!r}: use a plain lower-case name (letters, digits, _), "
            "at most 63 characters"
        )
    audit = table(AuditEvent)
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema}"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE, TRIGGER, REFERENCES ON {audit} FROM {role}",
        f"GRANT SELECT, INSERT ON {audit} TO {role}",
    ]
