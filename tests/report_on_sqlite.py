"""Play tests/report_scenario.py on a SQLite database and print DAY's stored report as
JSON: ``python -m tests.report_on_sqlite`` with DATABASE_URL=sqlite:///... (run by
tests/test_reports.py, which compares it with the same day on PostgreSQL)."""

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")


def main() -> None:
    import django

    django.setup()
    import time_machine
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import transaction

    from salesflow.reports.exports import report_json
    from salesflow.reports.selectors import daily_report
    from salesflow.reports.services import daily_report_build
    from tests import report_scenario as scenario
    from tests.conftest import ROLES
    from tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    # as in a test: one transaction, rolled back, so work queued for after the commit (a
    # pool handing out its tasks) never runs and the story stays the one told
    with transaction.atomic():
        staff = {}
        for role in ROLES:
            staff[role] = [UserFactory(username=f"{role}{n}") for n in (1, 2)]
            for user in staff[role]:
                user.groups.add(Group.objects.get(name=role))
        with time_machine.travel(scenario.at(-3, 9), tick=False) as clock:
            scenario.play_until_end_of_day(staff, clock)
            clock.move_to(scenario.at(1, 0, 5))
            daily_report_build(day=scenario.DAY)
            sys.stdout.write(report_json(daily_report(day=scenario.DAY)))
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
