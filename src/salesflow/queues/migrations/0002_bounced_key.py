"""A task created by a bounce was marked ``salesflow_bounced`` in its data; every term of a
task is an ``sf_`` key now (``queues.terms.BOUNCED``)."""

from django.db import migrations

OLD, NEW = "salesflow_bounced", "sf_bounced"


def rename_key(apps, schema_editor):
    Task = apps.get_model("viewflow", "Task")
    for task in Task.objects.filter(data__has_key=OLD).only("pk", "data").iterator():
        task.data[NEW] = task.data.pop(OLD)
        task.save(update_fields=["data"])


def restore_key(apps, schema_editor):
    Task = apps.get_model("viewflow", "Task")
    for task in Task.objects.filter(data__has_key=NEW).only("pk", "data").iterator():
        task.data[OLD] = task.data.pop(NEW)
        task.save(update_fields=["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("queues", "0001_initial"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [migrations.RunPython(rename_key, restore_key)]
