"""Reading an e-mail message: raw bytes in, what the memory keeps out (``ParsedMail``).

Pure functions, no database: the mailbox fetch, the mailbox-file import and the product's
own sent mail all come through ``parse_mail``, so a message reads the same whichever way it
arrived.

Russian mail is the normal case, and much of it is old or badly made: bodies in cp1251 or
koi8-r (declared, undeclared or declared wrongly), headers and attachment names in RFC 2047
encoded words (``=?koi8-r?B?...?=``) or RFC 2231 parameters, and raw 8-bit headers that no
standard allows. Each piece of text is decoded by its declared charset when there is one
that Python knows and that fits the bytes; otherwise it is guessed (charset-normalizer,
among UTF-8, the Cyrillic code pages and Latin-1) and the guess is noted among the
message's ``problems``. A structure that is not valid MIME (a multipart without its
boundary, broken base64) is read as far as it goes, also noted; nothing raises except a
file that is not a message at all (``MailUnreadable``).

HTML bodies are kept sanitised for display (nh3, the ammonia sanitiser): no scripts,
styles, forms or event handlers, links only to http(s) and mailto, and no images -- a
remote image is the sender's tracking pixel.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

import nh3
from charset_normalizer import from_bytes
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from salesflow.exceptions import SalesflowError

# where a charset is guessed: what Russian mail is written in, and Latin-1 last
GUESSES = ["utf_8", "cp1251", "koi8_r", "cp866", "iso8859_5", "mac_cyrillic", "latin_1"]
# what a problem is about (translated only when there is one)
SUBJECT, FROM, RECIPIENTS = (
    gettext_lazy("Subject"),
    gettext_lazy("From"),
    gettext_lazy("Recipients"),
)
TEXT, FILE_NAME = gettext_lazy("Text"), gettext_lazy("File name")
CYRILLIC_8BIT = ("cp1251", "koi8_r")  # the two a few words cannot tell apart (guess_decode)
MAX_ID = 500  # Message-ID column
SAFE_TAGS = nh3.ALLOWED_TAGS - {"img"}
_ID = re.compile(r"<[^<>\s]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class MailUnreadable(SalesflowError):
    """The bytes are not an e-mail message at all."""


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass
class ParsedMail:
    message_id: str
    in_reply_to: str
    references: list[str]
    subject: str
    from_name: str
    from_address: str
    to: list[str]
    cc: list[str]
    sent: datetime
    text: str
    html: str  # sanitised
    attachments: list[ParsedAttachment]
    size: int
    problems: list[str] = field(default_factory=list)

    @property
    def thread_key(self) -> str:
        """The first message of the thread as far as this one knows it."""
        return (self.references[:1] or [self.in_reply_to or self.message_id])[0]

    @property
    def addresses(self) -> list[str]:
        """Every address on it, sender first, lower case, each once."""
        seen: dict[str, None] = {}
        for address in [self.from_address, *self.to, *self.cc]:
            if address:
                seen.setdefault(address.lower(), None)
        return list(seen)


# --- decoding text ---------------------------------------------------------------------------


def guess_decode(data: bytes) -> tuple[str, str]:
    """Text of unknown encoding, and the encoding it was read as.

    charset-normalizer tells the Cyrillic code pages apart on long texts but not always on
    a few words, where cp1251 and koi8-r both decode to letters. There the case decides:
    the two put upper and lower case the other way round, and Russian text is mostly lower
    case, so of the two readings the one with more lower-case letters is the right one."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data, cp_isolation=GUESSES).best()
    if best is None:
        return data.decode("latin-1"), "latin_1"
    if best.encoding in CYRILLIC_8BIT:
        readings = [(data.decode(code), code) for code in CYRILLIC_8BIT]
        return max(readings, key=lambda reading: _lower_cyrillic(reading[0]))
    return str(best), best.encoding


def _lower_cyrillic(text: str) -> int:
    return sum(1 for ch in text if "а" <= ch <= "я" or ch == "ё")


def decode_bytes(data: bytes, charset: str | None, problems: list[str], what: Any) -> str:
    """``data`` read in its declared ``charset``, or guessed (noted in ``problems``) when
    there is none, Python does not know it, or the bytes do not fit it."""
    if charset:
        try:
            return data.decode(charset)
        except LookupError:
            text, used = guess_decode(data)
            problems.append(
                _("%(what)s: unknown charset “%(charset)s”, read as %(used)s")
                % {"what": what, "charset": charset, "used": used}
            )
            return text
        except UnicodeDecodeError:
            text, used = guess_decode(data)
            problems.append(
                _("%(what)s: not valid %(charset)s, read as %(used)s")
                % {"what": what, "charset": charset, "used": used}
            )
            return text
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        text, used = guess_decode(data)
        if used != "utf-8":
            problems.append(
                _("%(what)s: no charset given, read as %(used)s") % {"what": what, "used": used}
            )
        return text


def decode_header_text(value: str | None, problems: list[str], what: Any) -> str:
    """A header's text: RFC 2047 encoded words decoded by their charsets, raw 8-bit bytes
    (which arrive as surrogate escapes) guessed; folded lines joined."""
    if not value:
        return ""
    value = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in value):  # raw 8-bit in a header
        value = decode_bytes(value.encode("ascii", "surrogateescape"), None, problems, what)
    try:
        chunks = decode_header(value)
    except Exception:  # a malformed encoded word: keep the text as it came  # noqa: BLE001
        problems.append(_("%(what)s: malformed encoded words") % {"what": what})
        return _SPACE.sub(" ", value.replace("\n", " ")).strip()
    parts = []
    for chunk, charset in chunks:
        if isinstance(chunk, bytes):
            parts.append(decode_bytes(chunk, charset, problems, what))
        else:
            parts.append(chunk)
    return _SPACE.sub(" ", "".join(parts).replace("\r", "").replace("\n", " ")).strip()


# --- the message -------------------------------------------------------------------------------


def message_id_of(raw: bytes) -> str | None:
    """The Message-ID in a message's headers, read without parsing its body (a message
    stored before is recognised by it cheaply); None if it has none usable."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    found = _ids(_header(headers, "Message-ID"))
    return found[0] if found and len(found[0]) <= MAX_ID else None


def parse_mail(raw: bytes) -> ParsedMail:
    """Read a whole message (RFC 5322 bytes)."""
    if not raw or not raw.strip():
        raise MailUnreadable(_("An empty message."))
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not message.keys():
        raise MailUnreadable(_("Not an e-mail message: it has no headers."))
    problems: list[str] = []
    subject = decode_header_text(_header(message, "Subject"), problems, SUBJECT)
    from_name, from_address = _first_address(_headers(message, "From"), problems)
    to = _addresses(_headers(message, "To"), problems)
    cc = _addresses(_headers(message, "Cc"), problems)
    sent = _date(_header(message, "Date"), problems)
    text, body_html, attachments = _body(message, problems)
    for defect in _defects(message):
        problems.append(_("Malformed MIME: %(defect)s") % {"defect": defect})
    references = _ids(message.get("References"))
    in_reply_to = (_ids(message.get("In-Reply-To")) or [""])[0]
    message_id = (_ids(message.get("Message-ID")) or [""])[0]
    if not message_id or len(message_id) > MAX_ID:
        if not message_id:
            problems.append(_("No Message-ID: one was made from its content."))
        message_id = synthetic_id(
            from_address=from_address, to=to, date=str(message.get("Date", "")),
            subject=subject, text=text, attachments=attachments,
        )  # fmt: skip
    return ParsedMail(
        message_id=message_id,
        in_reply_to=in_reply_to[:MAX_ID],
        references=[r for r in references if len(r) <= MAX_ID],
        subject=subject,
        from_name=from_name[:300],
        from_address=from_address[:254],
        to=to,
        cc=cc,
        sent=sent,
        text=text,
        html=body_html,
        attachments=attachments,
        size=len(raw),
        problems=problems,
    )


def synthetic_id(
    *,
    from_address: str,
    to: list[str],
    date: str,
    subject: str,
    text: str,
    attachments: list[ParsedAttachment],
) -> str:
    """A Message-ID for a message that has none, from what makes it this message: the
    same message fetched twice, or imported again, gets the same one."""
    digest = hashlib.sha256()
    for part in (from_address, ",".join(to), date, subject, text[:65536]):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    for attachment in attachments:
        digest.update(hashlib.sha256(attachment.content).digest())
    return f"<{digest.hexdigest()}@no-message-id.salesflow.invalid>"


def _headers(message: Message, name: str) -> list[str]:
    """A header's values as they came: compat32 would turn raw 8-bit bytes into
    replacement characters before they could be guessed (``decode_header_text``)."""
    wanted = name.lower()
    return [str(value) for key, value in message.raw_items() if key.lower() == wanted]


def _header(message: Message, name: str) -> str | None:
    values = _headers(message, name)
    return values[0] if values else None


def _ids(value: str | None) -> list[str]:
    return _ID.findall(str(value or ""))


def _address_pairs(values: list[str], problems: list[str], what: Any) -> list[tuple[str, str]]:
    """(name, address) pairs of an address header. Some mailers encode the whole header,
    addresses included, as one encoded word: then it is decoded first."""
    pairs = [(n, a) for n, a in getaddresses(values) if "@" in a]
    if not pairs and values:
        decoded = [decode_header_text(value, problems, what) for value in values]
        return [(n, a) for n, a in getaddresses(decoded) if "@" in a]
    return [(decode_header_text(n, problems, what), a) for n, a in pairs]


def _addresses(values: list[str], problems: list[str]) -> list[str]:
    result = []
    for _name, address in _address_pairs(values, problems, RECIPIENTS):
        address = address.strip().lower()[:254]
        if address not in result:
            result.append(address)
    return result


def _first_address(values: list[str], problems: list[str]) -> tuple[str, str]:
    for name, address in _address_pairs(values, problems, FROM):
        return name, address.strip().lower()
    if values:
        problems.append(_("From: no address in “%(value)s”") % {"value": values[0][:100]})
    return "", ""


def _date(value: str | None, problems: list[str]) -> datetime:
    if value:
        try:
            sent = parsedate_to_datetime(str(value))
        except (TypeError, ValueError, IndexError):
            problems.append(_("Date: “%(value)s” is not a date") % {"value": str(value)[:100]})
        else:
            if sent.tzinfo is None:
                sent = sent.replace(tzinfo=UTC)
            return sent
    else:
        problems.append(_("No Date: the time it was read is used."))
    return timezone.now()


def _defects(message: Message) -> list[str]:
    found = []
    for part in message.walk():
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__.removesuffix("Defect")
            if name not in found:
                found.append(name)
    return found


def _body(message: Message, problems: list[str]) -> tuple[str, str, list[ParsedAttachment]]:
    text, body_html = "", ""
    attachments: list[ParsedAttachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        disposition = (_header(part, "Content-Disposition") or "").split(";")[0].strip().lower()
        raw_name = _filename(part, problems)
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        is_file = disposition == "attachment" or bool(raw_name)
        if content_type.startswith("multipart/"):  # no boundary: its body is all there is
            content_type = "text/plain"
        if not is_file and content_type == "text/plain" and not text:
            text = _clean_text(decode_bytes(data, part.get_content_charset(), problems, TEXT))
            continue
        if not is_file and content_type == "text/html" and not body_html:
            body_html = decode_bytes(data, part.get_content_charset(), problems, "HTML")
            continue
        if not is_file and content_type.startswith("text/"):
            continue  # another alternative of a body already read
        name = decode_header_text(raw_name, problems, FILE_NAME) if raw_name else ""
        attachments.append(
            ParsedAttachment(
                filename=(name or _("attachment-%(n)d") % {"n": len(attachments) + 1})[:300],
                content_type=content_type[:200],
                content=data,
            )
        )
    safe_html = sanitise_html(body_html) if body_html else ""
    if not text and body_html:
        text = html_to_text(body_html)
    return text, safe_html, attachments


def _filename(part: Message, problems: list[str]) -> str | None:
    """An attachment's name as sent (RFC 2231 parameters decoded; encoded words and raw
    8-bit bytes are decoded by the caller, ``decode_header_text``)."""
    for header in ("Content-Disposition", "Content-Type"):
        value = _header(part, header)
        if value and any("\udc80" <= ch <= "\udcff" for ch in value):  # raw 8-bit
            value = decode_header_text(value, problems, FILE_NAME)
        if not value:
            continue
        holder = Message()
        holder[header] = value
        name = holder.get_param(
            "filename" if header == "Content-Disposition" else "name", header=header
        )
        if name:
            return str(email.utils.collapse_rfc2231_value(name)).strip() or None
    return None


def sanitise_html(value: str) -> str:
    """HTML safe to show inside a page (see the module's docstring)."""
    return nh3.clean(
        value,
        tags=SAFE_TAGS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def html_to_text(value: str) -> str:
    """The words of an HTML body, for a message that has no text part."""
    spaced = re.sub(r"(?i)<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", "\n", value)
    stripped = nh3.clean(
        spaced, tags=set(), clean_content_tags={"script", "style", "head", "title"}
    )
    return _clean_text(html.unescape(stripped))


def _clean_text(value: str) -> str:
    lines = [_SPACE.sub(" ", line).rstrip() for line in value.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
