"""E-mail joins the company's memory: read right (Russian mail is the normal case), stored
once, matched to clients by their contacts' addresses, unmatched mail on the triage list;
from a real IMAP server (Dovecot), mailbox files, and the product's own sent mail."""

from __future__ import annotations

import json
import mailbox as stdlib_mailbox
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail as outbox
from django.core.management import CommandError, call_command
from imap_tools import AND

from salesflow.activities.capture import Outcome, mail_capture, mail_import_file, mail_send
from salesflow.activities.imap import TAKEN, MailboxUnavailable, mailbox_fetch
from salesflow.activities.mail import MailUnreadable, parse_mail
from salesflow.activities.models import Activity, MailAttachment, MailMessage
from salesflow.activities.tasks import fetch_mail
from salesflow.exceptions import NotPermitted, SalesflowError
from salesflow.queues import claims

from .conftest import open_task
from .factories import ClientFactory, ContactFactory, UserFactory
from .mailtools import COMPANY, IMAP_URL, encoded_word, imap_box_fixture, russian_mail

__all__ = ["imap_box_fixture"]  # the fixture, for pytest

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def company(settings):
    settings.SALESFLOW_MAIL_COMPANY_DOMAINS = [COMPANY]
    settings.DEFAULT_FROM_EMAIL = f"sales@{COMPANY}"


@pytest.fixture
def volga():
    client = ClientFactory(name="Volga Pumps")
    contact = ContactFactory(client=client, name="Иван Петров", email="Buyer@Volga.example")
    return client, contact


def counts() -> tuple[int, int, int]:
    return MailMessage.objects.count(), Activity.objects.count(), MailAttachment.objects.count()


# --- reading Russian mail --------------------------------------------------------------------


@pytest.mark.parametrize("charset", ["koi8-r", "cp1251", "utf-8"])
def test_russian_headers_bodies_and_file_names_come_out_right(charset):
    raw = russian_mail(charset=charset, attachments=(("Счёт №15 от 3 марта.pdf", b"%PDF-1.4"),))
    parsed = parse_mail(raw)
    assert parsed.subject == "Счёт на оплату"
    assert (parsed.from_name, parsed.from_address) == ("Иван Петров", "buyer@volga.example")
    assert parsed.text == "Здравствуйте! Высылаю счёт и спецификацию."
    assert [a.filename for a in parsed.attachments] == ["Счёт №15 от 3 марта.pdf"]
    assert parsed.problems == []


@pytest.mark.parametrize("charset", ["cp1251", "koi8-r"])
def test_undeclared_8bit_russian_is_guessed_and_the_guess_is_noted(charset):
    raw = (
        "From: buyer@volga.example\nSubject: Коммерческое предложение\n"
        "Message-ID: <raw@volga.example>\n\nтело письма\n"
    ).encode(charset)
    parsed = parse_mail(raw)
    assert parsed.subject == "Коммерческое предложение"
    assert parsed.text == "тело письма"
    assert any("no charset given" in p for p in parsed.problems)


def test_an_encoded_attachment_name_and_an_unknown_charset_are_read():
    name = encoded_word("Договор поставки.docx", "koi8-r")
    raw = (
        "From: =?x-unknown?B?0J/RgNC40LLQtdGC?= <a@volga.example>\nSubject: x\n"
        "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nhi\n"
        "--B\nContent-Type: application/octet-stream\n"
        f'Content-Disposition: attachment; filename="{name}"\n'
        "Content-Transfer-Encoding: base64\n\nAAEC\n--B--\n"
    ).encode()
    parsed = parse_mail(raw)
    assert parsed.from_name == "Привет"
    assert [(a.filename, a.content) for a in parsed.attachments] == [
        ("Договор поставки.docx", b"\x00\x01\x02")
    ]
    assert "From: unknown charset “x-unknown”, read as utf-8" in parsed.problems


def test_html_is_sanitised_and_a_text_is_made_from_it_when_there_is_none():
    raw = (
        "From: a@volga.example\nSubject: s\nContent-Type: text/html; charset=utf-8\n\n"
        "<p onclick='steal()'>Цена <b>100</b><script>alert(1)</script></p>"
        "<img src='https://tracker.example/pixel.gif'><a href='javascript:x()'>a</a>"
    ).encode()
    parsed = parse_mail(raw)
    assert "script" not in parsed.html and "onclick" not in parsed.html
    assert "<img" not in parsed.html and "javascript" not in parsed.html
    assert "<b>100</b>" in parsed.html
    assert parsed.text == "Цена 100\na"  # the paragraph ends a line


def test_malformed_mime_is_read_as_far_as_it_goes_and_said():
    raw = b"From: a@volga.example\nSubject: s\nContent-Type: multipart/mixed\n\nplain words\n"
    parsed = parse_mail(raw)
    assert parsed.text == "plain words"
    assert "Malformed MIME: NoBoundaryInMultipart" in parsed.problems


def test_bytes_that_are_no_message_are_refused_by_the_parser():
    with pytest.raises(MailUnreadable, match="empty"):
        parse_mail(b"  \n")


# --- storing once, matching clients -----------------------------------------------------------


def test_a_clients_mail_is_stored_once_on_its_timeline(volga):
    client, contact = volga
    raw = russian_mail(attachments=(("Счёт.pdf", b"%PDF-1.4 x"),))

    first = mail_capture(raw=raw, source="test")
    before = counts()
    again = mail_capture(raw=raw, source="test")

    assert first.outcome == Outcome.STORED and first.client_ids == (client.pk,)
    assert again.outcome == Outcome.DUPLICATE and counts() == before == (1, 1, 1)
    activity = Activity.objects.get()
    assert (activity.client, activity.contact, activity.kind) == (client, contact, "email")
    assert (activity.direction, activity.author, activity.counterpart) == (
        "in",
        None,
        "Buyer@Volga.example",
    )
    assert activity.mail.subject == "Счёт на оплату"
    assert bytes(MailAttachment.objects.get().content) == b"%PDF-1.4 x"


def test_mail_from_an_unknown_sender_goes_to_the_triage_list(volga):
    captured = mail_capture(raw=russian_mail(sender="stranger@nowhere.example"), source="test")
    assert captured.outcome == Outcome.UNMATCHED
    activity = Activity.objects.get()
    assert activity.client is None and activity.counterpart == "stranger@nowhere.example"


def test_outgoing_mail_is_matched_by_its_recipients_and_credited_to_its_sender(volga):
    client, _contact = volga
    manager = UserFactory(email=f"anna@{COMPANY}")
    raw = russian_mail(sender=f"anna@{COMPANY}", to="buyer@volga.example", sender_name="Анна")
    assert mail_capture(raw=raw, source="test").client_ids == (client.pk,)
    activity = Activity.objects.get()
    assert (activity.direction, activity.author) == ("out", manager)


def test_a_message_without_message_id_is_still_stored_once(volga):
    raw = russian_mail(message_id=None)
    assert mail_capture(raw=raw, source="test").outcome == Outcome.STORED
    assert mail_capture(raw=raw, source="imap").outcome == Outcome.DUPLICATE
    stored = MailMessage.objects.get()
    assert stored.message_id.endswith("@no-message-id.salesflow.invalid>")
    assert "No Message-ID" in stored.problems


def test_an_attachment_over_the_limit_is_listed_and_not_kept(volga, settings):
    settings.SALESFLOW_MAIL_ATTACHMENT_MAX_BYTES = 1024
    big = b"x" * 50_000  # stands for the 50 MB file: the limit is what matters
    mail_capture(raw=russian_mail(attachments=(("big.zip", big), ("small.txt", b"ok"))), source="t")
    kept = {a.filename: a for a in MailAttachment.objects.all()}
    assert kept["big.zip"].content is None and kept["big.zip"].size == 50_000
    assert kept["big.zip"].skipped == "48.8\xa0KB, over the limit of 1.0\xa0KB"
    assert bytes(kept["small.txt"].content) == b"ok"


def test_a_reply_joins_its_threads_first_message(volga):
    mail_capture(raw=russian_mail(message_id="<first@volga.example>"), source="t")
    reply = russian_mail(message_id="<second@salesflow.test>", in_reply_to="<first@volga.example>")
    mail_capture(raw=reply, source="t")
    assert set(MailMessage.objects.values_list("thread_key", flat=True)) == {
        "<first@volga.example>"
    }


def test_bytes_that_are_no_message_are_kept_with_the_reason_on_the_triage_list():
    captured = mail_capture(raw=b"\n\n\n", source="t")
    assert captured.outcome == Outcome.UNMATCHED
    stored = MailMessage.objects.get()
    assert stored.problems == "An empty message."
    assert MailAttachment.objects.get().filename == "message.eml"


# --- mailbox files --------------------------------------------------------------------------------


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    box = stdlib_mailbox.mbox(path)
    for raw in messages:
        box.add(raw)
    box.flush()
    box.close()
    return path


def test_an_mbox_is_imported_once_and_a_second_import_stores_nothing(tmp_path, volga):
    path = write_mbox(
        tmp_path / "leaving-manager.mbox",
        [
            russian_mail(message_id="<a@volga.example>"),
            russian_mail(message_id="<b@x.example>", sender="someone@else.example"),
            russian_mail(message_id=None, charset="cp1251"),
        ],
    )
    report = mail_import_file(path=path)
    assert (report.kind, report.read, report.stored, report.unmatched) == ("mbox", 3, 2, 1)
    before = counts()
    again = mail_import_file(path=path)
    assert (again.stored, again.unmatched, again.duplicates) == (0, 0, 3)
    assert counts() == before


def test_a_maildir_and_its_folders_are_imported(tmp_path, volga):
    box = stdlib_mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(russian_mail(message_id="<in@volga.example>"))
    sent = box.add_folder("Sent")
    sent.add(russian_mail(message_id="<out@salesflow.test>", sender=f"anna@{COMPANY}",
                          to="buyer@volga.example"))  # fmt: skip
    report = mail_import_file(path=tmp_path / "Maildir")
    assert (report.kind, report.read, report.stored) == ("maildir", 2, 2)
    assert sorted(Activity.objects.values_list("direction", flat=True)) == ["in", "out"]


def test_a_file_that_is_not_an_mbox_is_refused_and_nothing_is_stored(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Dear diary,\nnot a mailbox.\n")
    with pytest.raises(SalesflowError, match="not an mbox file: its first line must start with"):
        mail_import_file(path=path)
    assert counts() == (0, 0, 0)


def test_the_import_command_reports_and_prints_json(tmp_path, volga):
    path = write_mbox(tmp_path / "box.mbox", [russian_mail(message_id=None, charset="cp1251")])
    out = StringIO()
    call_command("mail", "import", str(path), "--json", stdout=out)
    figures = json.loads(out.getvalue())
    assert (figures["read"], figures["stored"], figures["duplicates"]) == (1, 1, 0)
    assert figures["problems"] == [["1", "No Message-ID: one was made from its content."]]
    with pytest.raises(CommandError, match="does not exist"):
        call_command("mail", "import", str(tmp_path / "missing.mbox"), stdout=StringIO())


# --- the company mailbox over IMAP (a real Dovecot) ------------------------------------------


def untaken(box) -> list[str]:
    """UIDs not marked taken, as the server has them now (NOOP: the test's own session
    learns what the fetch's session changed)."""
    box.client.noop()
    return box.uids(AND(no_keyword=TAKEN))


def seen(box) -> list[str]:
    box.client.noop()
    return box.uids(AND(seen=True))


def test_the_mailbox_is_read_stored_and_marked_taken_but_not_read(imap_box, volga):
    client, _contact = volga
    imap_box.append(russian_mail(message_id="<m1@volga.example>"), "INBOX")
    imap_box.append(russian_mail(message_id="<m2@x.example>", sender="x@nowhere.example",
                                 charset="cp1251"), "INBOX")  # fmt: skip

    report = mailbox_fetch(url=IMAP_URL)

    assert (report.fetched, report.stored, report.unmatched) == (2, 1, 1)
    assert Activity.objects.get(client=client).mail.subject == "Счёт на оплату"
    assert untaken(imap_box) == []
    assert seen(imap_box) == []  # \Seen belongs to the people reading it
    again = mailbox_fetch(url=IMAP_URL)
    assert again.fetched == 0 and MailMessage.objects.count() == 2


def test_a_message_stored_by_a_run_that_died_before_marking_is_marked_not_stored_again(
    imap_box, volga
):
    raw = russian_mail(message_id="<died@volga.example>")
    imap_box.append(raw, "INBOX")
    mail_capture(raw=raw, source="imap:INBOX")  # stored; the run died before marking it
    report = mailbox_fetch(url=IMAP_URL)
    assert (report.fetched, report.duplicates, report.stored) == (1, 1, 0)
    assert MailMessage.objects.count() == 1
    assert untaken(imap_box) == []


def test_messages_over_the_batch_wait_for_the_next_run(imap_box, volga):
    for n in range(3):
        imap_box.append(russian_mail(message_id=f"<b{n}@volga.example>"), "INBOX")
    first = mailbox_fetch(url=IMAP_URL, batch=2)
    assert (first.fetched, first.left) == (2, 1)
    assert len(untaken(imap_box)) == 1
    assert mailbox_fetch(url=IMAP_URL, batch=2).fetched == 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            IMAP_URL.replace("imap-test-password", "wrong"),
            "refused the login of sales@salesflow.test",
        ),
        (IMAP_URL.replace(":10143", ":10144"), "cannot be reached"),
        (IMAP_URL.replace("/INBOX", "/Nowhere"), "has no folder “Nowhere”"),
        ("pop3://mail.example", "must look like imap://"),
    ],
)
def test_a_mailbox_that_cannot_be_read_says_why_and_takes_nothing(imap_box, url, message):
    imap_box.append(russian_mail(), "INBOX")
    with pytest.raises(MailboxUnavailable, match=message):
        mailbox_fetch(url=url)
    assert counts() == (0, 0, 0)
    assert len(untaken(imap_box)) == 1


def test_the_periodic_job_reports_a_wrong_password_and_does_nothing_without_a_mailbox(
    imap_box, settings
):
    settings.SALESFLOW_IMAP_URL = ""
    assert fetch_mail.delay().get() == {"configured": False}
    settings.SALESFLOW_IMAP_URL = IMAP_URL.replace("imap-test-password", "wrong")
    result = fetch_mail.delay().get()
    assert "refused the login" in result["error"]


# --- mail sent from a task -------------------------------------------------------------------


def test_mail_sent_from_a_task_goes_out_as_the_company_and_joins_the_timeline(staff, new_lead):
    hunter = staff["hunter"][0]
    lead = new_lead()
    task = claims.task_claim(task=open_task(lead), user=hunter)
    contact = lead.contact

    captured = mail_send(
        task=task, user=hunter, contact_id=contact.pk, subject="Коммерческое предложение",
        text="Высылаем предложение по насосам.",
    )  # fmt: skip

    sent = outbox.outbox[-1]
    assert (sent.from_email, sent.to) == (f"sales@{COMPANY}", [contact.email])
    activity = Activity.objects.get(mail_id=captured.mail_id)
    assert (activity.client_id, activity.author, activity.direction) == (
        lead.client_id,
        hunter,
        "out",
    )
    assert (activity.task_id, activity.lead, activity.source) == (task.pk, lead, "product")


def test_mail_to_another_clients_contact_or_from_someone_elses_task_is_refused(staff, new_lead):
    hunter, other = staff["hunter"]
    lead = new_lead()
    task = claims.task_claim(task=open_task(lead), user=hunter)
    stranger = ContactFactory()
    with pytest.raises(SalesflowError) as refused:
        mail_send(task=task, user=hunter, contact_id=stranger.pk, subject="s", text="t")
    assert refused.value.errors == {"contact": ["Choose one of this client's contacts."]}
    with pytest.raises(NotPermitted, match="a task you are working on"):
        mail_send(task=task, user=other, contact_id=lead.contact.pk, subject="s", text="t")
    assert outbox.outbox == [] and counts() == (0, 0, 0)
