"""Handoff templates: what the next person must be told at a transition.

Flows declare one template per transition (``Stage(...).Handoff(template)``); the engine
validates notes against it. A template names its fields and how much real content each
needs, so that "ok", "see above" or a row of dots never passes as a handoff -- the cure for
the conveyor's "broken telephone".
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

TEXT = "text"
DATE = "date"

# Words that say nothing; a field made only of them is empty.
FILLER = {
    "-", "--", "...", "?", "n/a", "na", "none", "nothing", "no", "ok", "okay", "tbd", "todo",
    "same", "see above", "as above", "asdf", "test", "xxx", "нет", "ок", "см. выше", "то же",
    "ничего", "тест",
}  # fmt: skip
_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)


@dataclass(frozen=True)
class HandoffField:
    name: str
    label: StrOrPromise
    help_text: StrOrPromise = ""
    kind: str = TEXT
    min_words: int = 3
    required: bool = True


@dataclass(frozen=True)
class HandoffTemplate:
    """The note a stage must write for the stage it hands over to (``to_node``)."""

    code: str
    to_node: str
    title: StrOrPromise
    fields: tuple[HandoffField, ...]

    def validate(self, values: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
        """Return ``(clean_values, errors)``; ``errors`` maps field name to messages."""
        clean: dict[str, str] = {}
        errors: dict[str, list[str]] = {}
        for spec in self.fields:
            raw = values.get(spec.name)
            value = "" if raw is None else str(raw).strip()
            message = _check(spec, value)
            if message:
                errors[spec.name] = [str(message)]
            elif value:
                clean[spec.name] = value
        unknown = set(values) - {spec.name for spec in self.fields}
        if unknown:
            errors["__all__"] = [
                str(_("Unknown handoff fields: %(names)s")) % {"names": ", ".join(sorted(unknown))}
            ]
        return clean, errors


def _check(spec: HandoffField, value: str) -> StrOrPromise | None:
    if not value:
        return _("This field is required in a handoff note.") if spec.required else None
    if spec.kind == DATE:
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            return _("Enter a date as YYYY-MM-DD.")
        return None
    if value.lower().strip(" .!") in FILLER:
        return _("“%(value)s” tells the next person nothing; write what they need to know.") % {
            "value": value
        }
    words = _WORD.findall(value)
    if len(words) < spec.min_words:
        return _("Too thin: write at least %(count)d words the next person can act on.") % {
            "count": spec.min_words
        }
    if len({word.lower() for word in words}) == 1 and len(words) > 1:
        return _("Repeating one word is not a handoff; write what the next person needs.")
    return None


# Every bounce needs its own note: what is missing or wrong, so the sender can fix it.
BOUNCE_TEMPLATE = HandoffTemplate(
    code="bounce",
    to_node="",
    title=_("Send back"),
    fields=(
        HandoffField(
            "question",
            _("What is missing or wrong"),
            _("Ask the question the sender must answer before this stage can go on."),
            min_words=3,
        ),
    ),
)
