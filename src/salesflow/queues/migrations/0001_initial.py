from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion

# The pools read open tasks straight from viewflow's task table (their terms -- due date,
# priority, stalled -- are in its ``data``; see salesflow/queues/terms.py). These partial
# indexes hold only open tasks, in the order the pages and claim-next read them, so a
# pool costs the same at ten thousand finished tasks as at a million. viewflow's app is
# not ours, so they are created here, in each database's own JSON syntax (the one Django
# compiles ``data__sf_due`` to, or the planner would not match them).
OPEN = "status IN ('NEW', 'ASSIGNED', 'STARTED')"


def _key(vendor: str, key: str) -> str:
    if vendor == "postgresql":
        return f"(data -> '{key}')"
    return f"json_extract(data, '$.\"{key}\"')"


def _indexes(vendor: str) -> dict[str, str]:
    priority, due = _key(vendor, "sf_priority"), _key(vendor, "sf_due")
    return {
        # a pool page and claim-next: the waiting tasks of some stages, the most urgent first
        "sf_task_pool": f"(flow_task, {priority} DESC, {due}, created, id)"
        " WHERE status = 'NEW' AND owner_id IS NULL",
        # counts per pool (open, overdue), the console and the stalled scan
        "sf_task_open_by_node": f"(flow_task, {due}) WHERE {OPEN}",
        # a person's inbox, their work-in-progress count, offboarding
        "sf_task_open_by_owner": f"(owner_id, created) WHERE {OPEN} AND owner_id IS NOT NULL",
    }


def create_indexes(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for name, definition in _indexes(vendor).items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON viewflow_task {definition}")


def drop_indexes(apps, schema_editor):
    for name in _indexes(schema_editor.connection.vendor):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("viewflow", "0015_task_scheduled"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="RoundRobinCursor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("role", models.CharField(max_length=50, unique=True, verbose_name="role")),
                ("last_user", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="last given to")),
            ],
            options={
                "verbose_name": "round-robin position",
                "verbose_name_plural": "round-robin positions",
            },
        ),
        migrations.CreateModel(
            name="Absence",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("starts", models.DateField(verbose_name="first day away")),
                ("ends", models.DateField(verbose_name="last day away")),
                ("note", models.CharField(blank=True, max_length=200, verbose_name="note")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="absences", to=settings.AUTH_USER_MODEL, verbose_name="person")),
            ],
            options={
                "verbose_name": "absence",
                "verbose_name_plural": "absences",
                "ordering": ["-starts"],
                "indexes": [models.Index(fields=["user", "ends"], name="absence_user_ends")],
                "constraints": [models.CheckConstraint(condition=models.Q(("ends__gte", models.F("starts"))), name="absence_ends_after_it_starts", violation_error_message="An absence cannot end before it starts.")],
            },
        ),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
