"""Forms of the pool pages and the team console: they parse; the services decide."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core import signing
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from viewflow.views.base import BulkActionForm
from viewflow.workflow.models import Task

from salesflow.clients.models import Lead
from salesflow.conveyor.registry import human_nodes
from salesflow.people import display_names
from salesflow.roles import Role, get_roles

from . import terms
from .selectors import role_task_refs
from .terms import Priority


class YesNoAny(forms.NullBooleanSelect):
    """A yes/no filter whose empty choice reads "Any" (Django's says "Unknown")."""

    def __init__(self, attrs: Any = None) -> None:
        super().__init__(attrs)
        self.choices = [("unknown", _("Any")), ("true", _("Yes")), ("false", _("No"))]


class PoolFilter(django_filters.FilterSet):
    """Filters of a role's pool and inbox: stage, priority, source, stalled, overdue."""

    stage = django_filters.ChoiceFilter(label=_("Stage"), field_name="flow_task")
    priority = django_filters.ChoiceFilter(
        label=_("Priority"), choices=Priority.choices, method="filter_priority"
    )
    source = django_filters.ChoiceFilter(
        label=_("Lead source"), field_name="process__lead__source", choices=Lead.Source.choices
    )
    stalled = django_filters.BooleanFilter(
        label=_("Stalled"), method="filter_stalled", widget=YesNoAny
    )
    overdue = django_filters.BooleanFilter(
        label=_("Overdue"), method="filter_overdue", widget=YesNoAny
    )

    class Meta:
        model = Task
        fields: list[str] = []

    def __init__(self, *args: Any, role: Role | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        nodes = human_nodes()
        roles = [role] if role is not None else list(get_roles().values())
        self.filters["stage"].extra["choices"] = [
            (ref, nodes[name].task_title)
            for r in roles
            for ref, name in zip(role_task_refs(r), r.nodes, strict=True)
        ]

    def filter_priority(self, queryset: QuerySet[Task], name: str, value: str) -> QuerySet[Task]:
        return queryset.filter(**{terms.PRIORITY_PATH: int(value)}) if value else queryset

    def filter_stalled(
        self, queryset: QuerySet[Task], name: str, value: bool | None
    ) -> QuerySet[Task]:
        if value is None:
            return queryset
        stalled = Q(data__has_key=terms.STALLED)
        return queryset.filter(stalled) if value else queryset.exclude(stalled)

    def filter_overdue(
        self, queryset: QuerySet[Task], name: str, value: bool | None
    ) -> QuerySet[Task]:
        if value is None:
            return queryset
        late = Q(**{f"{terms.DUE_PATH}__lt": terms.stamp(timezone.now())})
        return queryset.filter(late) if value else queryset.exclude(late)


def _people() -> QuerySet[Any]:
    return (
        get_user_model()
        ._default_manager.filter(is_active=True)
        .order_by("first_name", "last_name", "username")
    )


class _PersonLabels:
    """Choices that show people as everywhere else (``salesflow.people``: full name, with
    the username where two share it), named in one query per list."""

    queryset: Any

    def label_from_instance(self, obj: Any) -> str:
        names = getattr(self, "_names", None)
        if names is None or obj.pk not in names:
            people = self.queryset if self.queryset is not None else []
            names = self._names = display_names(people)
        return names.get(obj.pk, str(obj))


class PersonChoiceField(_PersonLabels, forms.ModelChoiceField):  # type: ignore[type-arg]
    """A person picker."""


class _PersonFilterField(_PersonLabels, django_filters.fields.ModelChoiceField):
    """A person filter (with the filter's own "nobody" choice)."""


class PersonFilter(django_filters.ModelChoiceFilter):
    field_class = _PersonFilterField


class ConsoleFilter(PoolFilter):
    """The console's filters: a pool filter over every role, plus who holds the task."""

    owner = PersonFilter(
        label=_("Owner"),
        field_name="owner",
        queryset=_people(),
        null_label=_("In the pool"),
    )


class ReassignForm(BulkActionForm):
    """Where the selected tasks go (a person, or back to their pools) and why."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"] = PersonChoiceField(
            label=_("Give to"),
            queryset=_people(),
            required=False,
            empty_label=_("Back to the pool"),
        )
        self.fields["reason"] = forms.CharField(
            label=_("Why"),
            help_text=_("The person who gets the work reads it; it stays in the history."),
            widget=forms.Textarea(attrs={"rows": 2}),
        )


class OffboardForm(forms.Form):
    """Who leaves, and where their open work goes. A confirmation carries the preview it
    confirms (``preview``: signed, so it says what the page showed): the view acts only
    on exactly that person, that destination and those tasks."""

    PREVIEW_SALT = "salesflow.queues.offboard-preview"
    PREVIEW_MAX_AGE = 60 * 60  # seconds a preview may be confirmed

    user = PersonChoiceField(label=_("Person leaving"), queryset=_people())
    to = PersonChoiceField(
        label=_("Their open work goes to"),
        queryset=_people(),
        required=False,
        empty_label=_("Back to the pools"),
    )
    preview = forms.CharField(required=False, widget=forms.HiddenInput)

    @classmethod
    def preview_token(cls, *, user_id: int, to_id: int | None, task_ids: list[int]) -> str:
        return signing.dumps(
            {"user": user_id, "to": to_id, "tasks": sorted(task_ids)}, salt=cls.PREVIEW_SALT
        )

    def previewed_tasks(self) -> list[int] | None:
        """The task ids of the preview being confirmed -- None if the page showed no
        preview of the person and destination now selected (or it is too old)."""
        try:
            shown = signing.loads(
                self.cleaned_data.get("preview") or "",
                salt=self.PREVIEW_SALT,
                max_age=self.PREVIEW_MAX_AGE,
            )
        except signing.BadSignature:
            return None
        to = self.cleaned_data.get("to")
        if shown.get("user") != self.cleaned_data["user"].pk or shown.get("to") != (
            to.pk if to is not None else None
        ):
            return None
        return [int(pk) for pk in shown.get("tasks", [])]
