"""The report page's figures as a person reads them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.formats import number_format

register = template.Library()


@register.filter
def sf_figure(value: Any) -> Any:
    """Amounts with the reader's thousands separators; other figures as they are."""
    if isinstance(value, Decimal):
        return number_format(value, 2, force_grouping=True)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        return number_format(value, 0, force_grouping=True)
    return value
