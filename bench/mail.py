"""Mail ingestion: an mbox of mixed Russian mail through the path every message takes.

Writes an mbox of ``--messages`` messages as Russian companies send them -- subjects and
names in RFC 2047 encoded words, bodies in koi8-r, cp1251 and UTF-8 (some without a
declared charset), HTML parts to sanitise, attachments named in RFC 2231, some without a
Message-ID, a third from senders the base does not know -- into a scratch database
(``test_<db>_mail``) holding ``--clients`` clients with a contact each. Imports it with
``activities.capture.mail_import_file`` (each message through ``mail_capture``, as the
IMAP fetch stores them), then imports the same file again: nothing may be stored twice.
"""

from __future__ import annotations

import mailbox
import os
import tempfile
import time
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from django.db import connection
from django.utils import timezone

from salesflow.activities.capture import mail_import_file
from salesflow.activities.models import Activity, MailMessage
from salesflow.clients.models import Client, Contact

from .base import scratch_database, timed
from .data import require_postgresql

CHARSETS = ("koi8-r", "cp1251", "utf-8")
SUBJECTS = ("Счёт на оплату", "Коммерческое предложение", "Договор поставки", "Акт сверки")
TEXT = (
    "Здравствуйте, Иван Петрович!\n\nВысылаю счёт и спецификацию на насосы ЦНС 38-44, "
    "20 штук. Просим подтвердить сроки отгрузки.\n\nС уважением,\nАнна Смирнова"
)


def add_arguments(parser: Any) -> None:
    parser.add_argument("--messages", type=int, default=2000, help="messages in the mbox")
    parser.add_argument("--clients", type=int, default=500, help="clients in the base")


def message(n: int, clients: int) -> bytes:
    charset = CHARSETS[n % 3]
    known = n % 3 != 0
    sender = f"buyer{n % clients}@client{n % clients}.example" if known else f"x{n}@unknown.example"
    mime = MIMEMultipart()
    mime["Subject"] = Header(f"{SUBJECTS[n % 4]} {n}", charset)  # koi8-r has no №
    mime["From"] = f"{Header('Иван Петров', charset).encode()} <{sender}>"
    mime["To"] = "sales@salesflow.test"
    mime["Date"] = format_datetime(timezone.now())
    if n % 10:
        mime["Message-ID"] = f"<bench-{n}@client.example>"
    mime.attach(MIMEText(TEXT, "plain", charset))
    if n % 4 == 0:
        html = f"<p onclick='x()'>{TEXT}</p><script>alert(1)</script><img src='https://t/{n}'>"
        mime.attach(MIMEText(html, "html", "utf-8"))
    if n % 5 == 0:
        part = MIMEApplication(b"%PDF-1.4 " + bytes(n % 256 for _ in range(2000)), "pdf")
        part.add_header(
            "Content-Disposition", "attachment", filename=("cp1251", "", f"Счёт {n}.pdf")
        )
        mime.attach(part)
    return mime.as_bytes()


def run(*, messages: int, clients: int, keepdb: bool) -> dict[str, Any]:
    require_postgresql()
    test = connection.settings_dict.setdefault("TEST", {})
    test["NAME"] = f"test_{connection.settings_dict['NAME']}_mail"
    with tempfile.TemporaryDirectory() as folder, scratch_database(keep=keepdb):
        path = Path(folder) / "mixed-russian.mbox"
        box = mailbox.mbox(path)
        for n in range(messages):
            box.add(message(n, clients))
        box.flush()
        box.close()
        for n in range(clients):
            client = Client.objects.create(name=f"Client {n}")
            Contact.objects.create(
                client=client, name=f"Buyer {n}", email=f"buyer{n}@client{n}.example"
            )
        first = {}
        cpu = time.process_time()
        seconds = timed(lambda: first.update(report=mail_import_file(path=path)))
        cpu = time.process_time() - cpu
        stored = MailMessage.objects.count()
        second = {}
        again_seconds = timed(lambda: second.update(report=mail_import_file(path=path)))
        report, again = first["report"], second["report"]
        figures = {
            "database": "postgresql",
            "messages": messages,
            "mbox_bytes": path.stat().st_size,
            "seconds": round(seconds, 2),
            "messages_per_s": round(messages / seconds, 1),
            # this process's CPU alone (parsing, sanitising, the ORM; not PostgreSQL's):
            # what the figure would approach on a machine nobody else is loading
            "cpu_ms_per_message": round(cpu / messages * 1000, 2),
            "load_average": round(os.getloadavg()[0], 1),
            "stored": stored,
            "on_a_timeline": report.stored,
            "unmatched": report.unmatched,
            "activities": Activity.objects.count(),
            "read_with_problems": len({where for where, _problem in report.problems}),
            "second_run_seconds": round(again_seconds, 2),
            "second_run_recognised": again.duplicates,
            "duplicates": MailMessage.objects.count() - stored,
        }
    return figures
