"""The measure within_sla from indexes alone on PostgreSQL.

A month's finished stage tasks are tens of thousands of rows of viewflow's table, and
the due time of each is in its JSON terms (``queues.terms``: ``sf_due``, UTC ISO 8601
with its offset). Counted from the rows, every one is read and its due time parsed; with
these two partial indexes the counts are index-only scans: every finished stage task by
when it finished and who finished it, and those finished after their due time.

An index's predicate must be immutable, and a text-to-timestamptz cast is only stable
(it may depend on the session's time zone and date style): ``salesflow_instant`` is that
cast declared immutable, which is true for the strings the engine writes -- an ISO 8601
time with an explicit offset means the same instant in every session.
SQLite counts the rows (the embedded default's history is small).
"""

from django.db import migrations

FUNCTION = (
    "CREATE OR REPLACE FUNCTION salesflow_instant(text) RETURNS timestamptz"
    " LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT $1::timestamptz $$"
)
FINISHED_STAGE = "flow_task_type = 'HUMAN' AND status = 'DONE'"
FORWARD = [
    FUNCTION,
    "CREATE INDEX IF NOT EXISTS sf_task_done ON viewflow_task (finished) INCLUDE (owner_id)"
    f" WHERE {FINISHED_STAGE}",
    "CREATE INDEX IF NOT EXISTS sf_task_done_late ON viewflow_task (finished)"
    f" INCLUDE (owner_id) WHERE {FINISHED_STAGE}"
    " AND finished > salesflow_instant(data ->> 'sf_due')",
]
BACKWARD = [
    "DROP INDEX IF EXISTS sf_task_done_late",
    "DROP INDEX IF EXISTS sf_task_done",
    "DROP FUNCTION IF EXISTS salesflow_instant(text)",
]


def run(statements):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("targets", "0001_initial"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [migrations.RunPython(run(FORWARD), run(BACKWARD), elidable=False)]
