"""How a person is shown, everywhere: their full name, with their username beside it where
another person shares the name ("Anna Petrova (apetrova)"), or the username alone for an
account without a name. One rule for notes, reports, messages, pickers, exports and the API,
so people can tell each other apart."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.db.models import Count, Value
from django.db.models.functions import Concat, Trim

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def _full_name(user: AbstractBaseUser) -> str:
    name = getattr(user, "get_full_name", lambda: "")()
    return str(name).strip()


def shared_names(names: Iterable[str]) -> set[str]:
    """Which of these full names more than one account has (one query)."""
    wanted = {name for name in names if name}
    if not wanted:
        return set()
    full = Trim(Concat("first_name", Value(" "), "last_name"))
    rows = (
        get_user_model()
        ._default_manager.annotate(full_name=full)
        .filter(full_name__in=wanted)
        .values("full_name")
        .annotate(accounts=Count("pk"))
        .filter(accounts__gt=1)
    )
    return {row["full_name"] for row in rows}


def display_names(users: Iterable[AbstractBaseUser]) -> dict[int, str]:
    """Each user's shown name, by id, in one query for the whole list."""
    people = list(users)
    shared = shared_names(_full_name(user) for user in people)
    return {user.pk: _shown(user, shared) for user in people}


def display_name(user: AbstractBaseUser | None) -> str:
    """One user's shown name (one query; for a list use ``display_names``)."""
    if user is None:
        return ""
    return _shown(user, shared_names([_full_name(user)]))


def namesakes() -> set[str]:
    """Every full name more than one account has (one query, whatever the page shows):
    for a page that names people row by row, with ``shown``."""
    full = Trim(Concat("first_name", Value(" "), "last_name"))
    rows = (
        get_user_model()
        ._default_manager.annotate(full_name=full)
        .exclude(full_name="")
        .values("full_name")
        .annotate(accounts=Count("pk"))
        .filter(accounts__gt=1)
    )
    return {row["full_name"] for row in rows}


def shown(user: AbstractBaseUser, shared: set[str]) -> str:
    """One user's shown name, given the names that are shared (``namesakes``)."""
    return _shown(user, shared)


def _shown(user: AbstractBaseUser, shared: set[str]) -> str:
    name, username = _full_name(user), user.get_username()
    if not name:
        return username
    return f"{name} ({username})" if name in shared else name
