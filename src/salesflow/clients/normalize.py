"""Matching keys: the form in which two spellings of the same phone, e-mail, tax number or
company name compare equal.

Leads arrive typed by people and by other systems: ``8 (900) 123-45-67`` and
``+7 900 1234567`` are one phone; ``"Volga Pumps" LLC``, ``VOLGA PUMPS, Ltd.`` and
``Volga-Pumps`` are one company name. The keys computed here are stored in indexed columns
(``Client.name_key``, ``Client.tax_key``, ``Contact.phone_key``, ``Contact.email_key``),
written whenever the row is saved, so matching is an index lookup and never recomputes a
key per row of the client base.

Pure functions, no database: the model's ``save`` and the data migration use them too.
"""

from __future__ import annotations

import enum
import re
import unicodedata

import phonenumbers
from django.conf import settings
from stdnum.exceptions import InvalidChecksum, InvalidLength, ValidationError
from stdnum.ru import inn

# Legal forms, as whole words after lower-casing and dropping dots ("L.L.C." -> "llc").
LEGAL_FORMS = frozenset(
    {
        # Russian, and their usual Latin spellings
        "ооо", "оао", "зао", "пао", "ао", "нао", "ип", "гуп", "муп", "фгуп", "нко", "ано",
        "тоо", "чоп", "ooo", "oao", "zao", "pao", "ao", "ip",
        # English and European
        "llc", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "co",
        "company", "jsc", "cjsc", "pjsc", "ojsc", "plc", "llp", "lp", "gmbh", "ag", "sa",
        "sarl", "bv", "nv", "oy", "ab", "spa", "srl", "kg",
    }
)  # fmt: skip
# Legal forms spelled out (Russian), removed as phrases before the single words.
LEGAL_PHRASES = (
    "общество с ограниченной ответственностью",
    "публичное акционерное общество",
    "закрытое акционерное общество",
    "открытое акционерное общество",
    "непубличное акционерное общество",
    "акционерное общество",
    "индивидуальный предприниматель",
    "limited liability company",
)
_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_DROPPED = str.maketrans({".": "", "'": "", "’": "", "`": "", "ʼ": ""})


def name_key(name: str) -> str:
    """A company name without case, quotes, punctuation and legal form.

    ``ООО «Ромашка»``, ``"Romashka" OOO`` -> ``ромашка`` / ``romashka`` (no
    transliteration: a Latin and a Cyrillic spelling stay different keys). A name that is
    nothing but a legal form keeps it, so that it does not match every other such name.
    """
    text = unicodedata.normalize("NFKC", name or "").casefold().replace("ё", "е")
    text = " ".join(_NOT_WORD.sub(" ", text.translate(_DROPPED)).replace("_", " ").split())
    stripped = f" {text} "
    for phrase in LEGAL_PHRASES:
        stripped = stripped.replace(f" {phrase} ", " ")
    words = [word for word in stripped.split() if word not in LEGAL_FORMS]
    return " ".join(words) or text


def name_numbers(key: str) -> tuple[str, ...]:
    """The numbers in a name key: "Stroy 1" and "Stroy 2" are different companies however
    similar the rest of their names is."""
    return tuple(_DIGITS.findall(key))


def tax_key(tax_number: str) -> str:
    """The digits of a tax number (INN, VAT number without its country letters)."""
    return "".join(ch for ch in (tax_number or "") if ch.isdigit())


class InnProblem(enum.StrEnum):
    FORMAT = "format"
    LENGTH = "length"
    CHECKSUM = "checksum"


def inn_problem(tax_number: str) -> InnProblem | None:
    """What is wrong with a typed INN, None if nothing (or nothing typed).

    Any white space (no-break and narrow no-break spaces, as spreadsheets group digits)
    and hyphens between the digits are allowed; then it must be 10 or 12 digits whose
    check digits are right by the official algorithm -- python-stdnum's ``ru.inn``
    (maintained, the algorithm's own test vectors), not one of our own."""
    compact = "".join(ch for ch in (tax_number or "") if not (ch.isspace() or ch == "-"))
    if not compact:
        return None
    if not compact.isascii() or not compact.isdigit():
        return InnProblem.FORMAT
    try:
        inn.validate(compact)
    except InvalidLength:
        return InnProblem.LENGTH
    except InvalidChecksum:
        return InnProblem.CHECKSUM
    except ValidationError:
        return InnProblem.FORMAT
    return None


def email_key(email: str) -> str:
    """The address without surrounding blanks, in lower case."""
    return (email or "").strip().lower()


def parse_phone(phone: str) -> phonenumbers.PhoneNumber | None:
    """The number as a PhoneNumber if it is a possible phone number; national numbers are
    read in ``SALESFLOW_PHONE_REGION`` (``RU``: ``8 900 ...`` and ``900 ...`` are +7)."""
    if not (phone or "").strip():
        return None
    try:
        number = phonenumbers.parse(phone, settings.SALESFLOW_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def phone_key(phone: str) -> str:
    """The number in E.164 digits without the plus (``79001234567``); for something that
    is not a possible phone number, its digits (so it still matches itself)."""
    number = parse_phone(phone)
    if number is None:
        return "".join(ch for ch in (phone or "") if ch.isdigit())
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
