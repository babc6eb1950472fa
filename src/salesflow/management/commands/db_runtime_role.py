"""``salesflow db-runtime-role ROLE``: give the runtime database role (the web app's and
the workers') what the application needs, and on the audit trail only INSERT and SELECT.

Run it as the role that owns the tables (the one ``salesflow migrate`` runs as), after
every migrate; ``--print`` only prints the statements (for a DBA). See docs/deploy.md."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from salesflow.audit.grants import runtime_role_statements


class Command(BaseCommand):
    help = (
        "Grant ROLE (the runtime role of gunicorn and Celery) what the application needs; "
        "on the audit table only INSERT and SELECT. Run as the owner of the tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role")
        parser.add_argument("--schema", default="public")
        parser.add_argument("--print", action="store_true", help="print the SQL, run nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            statements = runtime_role_statements(role=options["role"], schema=options["schema"])
        except ValueError as error:
            raise CommandError(str(error)) from None
        if options["print"]:
            self.stdout.write(";\n".join(statements) + ";")
            return
        if connection.vendor != "postgresql":
            raise CommandError("Database roles are PostgreSQL's: nothing to do on this database.")
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.stdout.write(
            f"{options['role']}: the application's tables; on the audit trail INSERT and "
            "SELECT only. Run this again after every migrate."
        )
