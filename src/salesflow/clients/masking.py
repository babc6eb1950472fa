"""How a protected value looks to someone who may not see it.

A masked phone keeps its country code and last two digits, a masked e-mail its first letter
and domain: enough to tell two contacts apart or to recognise a number that calls, not
enough to call or write. Pure functions; who may see what is decided in ``selectors``.
"""

from __future__ import annotations

from .normalize import parse_phone, phone_key

HIDDEN = "•••"


def mask_phone(phone: str) -> str:
    digits = phone_key(phone)
    if not digits:
        return ""
    number = parse_phone(phone)
    prefix = f"+{number.country_code} " if number is not None else ""
    if len(digits) < 6:
        return f"{prefix}{HIDDEN}"
    return f"{prefix}••• •••-••-{digits[-2:]}"


def mask_email(email: str) -> str:
    email = (email or "").strip()
    if not email:
        return ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{HIDDEN}@{domain}" if domain else HIDDEN


def mask_text(value: str) -> str:
    """Legal details (tax number, addresses, bank details): only that there is one."""
    return HIDDEN if (value or "").strip() else ""
