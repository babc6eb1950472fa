"""Test mail: messages as Russian companies send them, and the tests' IMAP server.

The server is a real Dovecot (``tests/dovecot/``, started by ``.ci/run``) on
127.0.0.1:10143; messages are delivered to it with IMAP APPEND, as a mail server would.
"""

from __future__ import annotations

import base64
import os
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime

import pytest
from django.utils import timezone
from imap_tools import MailBoxUnencrypted

IMAP_HOST, IMAP_PORT = "127.0.0.1", 10143
IMAP_USER, IMAP_PASSWORD = "sales@salesflow.test", "imap-test-password"
IMAP_URL = f"imap://sales%40salesflow.test:{IMAP_PASSWORD}@{IMAP_HOST}:{IMAP_PORT}/INBOX"
COMPANY = "salesflow.test"


def encoded_word(text: str, charset: str) -> str:
    """``text`` as one RFC 2047 encoded word (base64) in ``charset``."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def russian_mail(
    *,
    sender: str = "buyer@volga.example",
    sender_name: str = "Иван Петров",
    to: str = f"sales@{COMPANY}",
    subject: str = "Счёт на оплату",
    text: str = "Здравствуйте! Высылаю счёт и спецификацию.",
    charset: str = "koi8-r",
    message_id: str | None = "<invoice-1@volga.example>",
    html: str | None = None,
    attachments: tuple[tuple[str, bytes], ...] = (),
    in_reply_to: str | None = None,
) -> bytes:
    """A message with its subject, sender's name and body in ``charset`` (RFC 2047
    headers) and attachments named in RFC 2231 (cp1251)."""
    message = MIMEMultipart()
    message["Subject"] = Header(subject, charset)
    message["From"] = f"{encoded_word(sender_name, charset)} <{sender}>"
    message["To"] = to
    message["Date"] = format_datetime(timezone.now())
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.attach(MIMEText(text, "plain", charset))
    if html is not None:
        message.attach(MIMEText(html, "html", "cp1251"))
    for name, content in attachments:
        part = MIMEApplication(content, "octet-stream")
        part.add_header("Content-Disposition", "attachment", filename=("cp1251", "", name))
        message.attach(part)
    return message.as_bytes()


@pytest.fixture(name="imap_box")
def imap_box_fixture():
    """The tests' mailbox on the real IMAP server, emptied. Skips only outside CI."""
    try:
        box = MailBoxUnencrypted(IMAP_HOST, IMAP_PORT, timeout=5).login(IMAP_USER, IMAP_PASSWORD)
    except OSError as exc:
        if os.environ.get("SALESFLOW_REQUIRE_SERVICES"):
            pytest.fail(
                f"the IMAP server is not reachable at {IMAP_HOST}:{IMAP_PORT} ({exc}),"
                " and CI requires it"
            )
        pytest.skip(f"the IMAP server is not reachable ({exc}): run tests/dovecot/start")
    uids = box.uids()
    if uids:
        box.delete(uids)
    yield box
    box.logout()
