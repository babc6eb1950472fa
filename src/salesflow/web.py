"""The signed-in person of a request, as the services take them.

Pages that require a sign-in (``login_required``, ``LoginRequiredMixin``, the viewflow
site's own check) still see ``request.user`` typed as "a user or anonymous"; ``person``
gives the user, and refuses (403) the anonymous visitor a page forgot to send to the
sign-in page -- so no service is ever called with an anonymous user by mistake."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from viewflow.workflow.models import Task


def person(request: HttpRequest) -> User:
    """The request's signed-in user; PermissionDenied for an anonymous one."""
    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied
    return user


def task_of(request: HttpRequest) -> Task:
    """The task of a viewflow task page (its ``task_view`` wrapper sets ``request.activation``
    before the view runs)."""
    task: Task = request.activation.task  # type: ignore[attr-defined]
    return task
