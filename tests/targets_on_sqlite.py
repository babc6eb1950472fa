"""Play tests/test_targets.py's hand-built week on a SQLite database and print hunter1's
scorecards and the week's funnel as JSON: ``python -m tests.targets_on_sqlite`` with
DATABASE_URL=sqlite:///... (run by tests/test_targets.py, which compares it with the same
figures on PostgreSQL)."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import transaction

    from tests.conftest import ROLES
    from tests.factories import UserFactory
    from tests.test_targets import play_week, week_figures

    call_command("migrate", verbosity=0)
    with transaction.atomic():
        staff = {}
        for role in ROLES:
            staff[role] = [UserFactory(username=f"{role}{n}") for n in (1, 2)]
            for user in staff[role]:
                user.groups.add(Group.objects.get(name=role))
        figures = week_figures(play_week(staff))
        sys.stdout.write(json.dumps(figures, default=str))
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
