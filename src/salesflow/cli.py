"""The ``salesflow`` command: Django's management commands under the product's name.

``salesflow migrate``, ``salesflow createsuperuser`` ... work as with ``manage.py``; the
product's own commands accept dashes (``salesflow seed-demo`` runs ``seed_demo``).
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesflow.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "salesflow"
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")

    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
