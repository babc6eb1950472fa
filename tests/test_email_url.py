"""Every ``EMAIL_URL`` scheme the settings accept sends mail (issue 12, item 8): each one
is turned into Django's settings by ``salesflow.settings.email_settings`` and a message
is sent through the backend it names."""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path

import pytest
from django.core import mail
from django.test import override_settings

from salesflow.settings import email_settings

from .procs import mailbox

VAR = Path("/srv/salesflow/var")


def send(url: str, tmp_path: Path = VAR) -> int:
    with override_settings(**email_settings(url, var_dir=tmp_path)):
        return mail.send_mail("Stalled work", "two tasks", "sf@example.com", ["lead@example.com"])


def test_filemail_writes_each_message_to_the_directory_named(tmp_path):
    directory = tmp_path / "outgoing mail"
    assert send(f"filemail://{directory.as_posix().replace(' ', '%20')}") == 1
    [written] = directory.iterdir()
    assert "Subject: Stalled work" in written.read_text()


def test_filemail_without_a_path_or_with_a_relative_one_writes_under_the_var_directory(tmp_path):
    assert (
        email_settings("filemail://", var_dir=VAR)["EMAIL_FILE_PATH"] == "/srv/salesflow/var/mail"
    )
    relative = email_settings("filemail://outbox", var_dir=VAR)
    assert relative["EMAIL_FILE_PATH"] == "/srv/salesflow/var/outbox"
    assert send("filemail://sent", tmp_path) == 1
    assert len(list((tmp_path / "sent").iterdir())) == 1


def test_smtp_delivers_to_the_server_with_its_user_and_password():
    config = email_settings("smtp://robot%40firm.ru:p%2Fss@mail.firm.ru", var_dir=VAR)
    assert (config["EMAIL_HOST"], config["EMAIL_PORT"]) == ("mail.firm.ru", 25)
    assert (config["EMAIL_HOST_USER"], config["EMAIL_HOST_PASSWORD"]) == ("robot@firm.ru", "p/ss")
    assert not config["EMAIL_USE_TLS"] and not config["EMAIL_USE_SSL"]
    with mailbox() as server:
        assert send(server.url) == 1
    [(sender, recipients, text)] = server.messages
    assert recipients == ["lead@example.com"] and "Subject: Stalled work" in text


@pytest.mark.parametrize("scheme", ["smtp+tls", "smtps"])
def test_smtp_with_starttls_asks_the_server_for_it(scheme):
    config = email_settings(f"{scheme}://mail.firm.ru", var_dir=VAR)
    assert (config["EMAIL_PORT"], config["EMAIL_USE_TLS"], config["EMAIL_USE_SSL"]) == (
        587, True, False,
    )  # fmt: skip
    with mailbox() as server:  # a server without STARTTLS: the backend insists on it
        port = server.server_address[1]
        with pytest.raises(smtplib.SMTPNotSupportedError, match="STARTTLS"):
            send(f"{scheme}://127.0.0.1:{port}")
    assert server.messages == []  # nothing went out in the clear


def test_smtp_over_ssl_speaks_tls_from_the_first_byte():
    config = email_settings("smtp+ssl://mail.firm.ru", var_dir=VAR)
    assert (config["EMAIL_PORT"], config["EMAIL_USE_TLS"], config["EMAIL_USE_SSL"]) == (
        465, False, True,
    )  # fmt: skip
    with mailbox() as server:  # a plain-text server answers the TLS hello with its banner
        port = server.server_address[1]
        with pytest.raises(ssl.SSLError):
            send(f"smtp+ssl://127.0.0.1:{port}")
    assert server.messages == []


def test_consolemail_prints_the_message(capsys):
    assert send("consolemail://") == 1
    assert "Subject: Stalled work" in capsys.readouterr().out


def test_memorymail_keeps_the_message():
    mail.outbox = []
    assert send("memorymail://") == 1
    assert [m.subject for m in mail.outbox] == ["Stalled work"]


def test_dummymail_drops_the_message():
    mail.outbox = []
    assert send("dummymail://") == 1
    assert mail.outbox == []


def test_an_unknown_scheme_is_refused_at_start_up():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="foo"):
        email_settings("foo://host", var_dir=VAR)
