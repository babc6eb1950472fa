"""Similar company names, found by an index on PostgreSQL (pg_trgm).

Not in ``Client.Meta.indexes``: SQLite (the embedded default) has neither the extension nor
GIN indexes, and there the intake compares names by their exact key only.
"""

from django.db import migrations

INDEX = "clients_client_name_key_trgm"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON clients_client USING gin (name_key gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("clients", "0002_matching_keys_duplicates_reactivations")]

    operations = [migrations.RunPython(create, drop)]
