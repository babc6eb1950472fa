"""The API's views: parse, call one service or selector, answer.

Permissions are the engine's, exactly as on the pages: the views call the same services
(``task_claim``, ``stage_complete``, ``contact_reveal``, ...), which refuse what a user may
not do; a refusal is answered by ``errors.exception_handler``. No view writes a model.

Tasks live under ``/api/tasks/``: ``{id}/`` and its actions, the person's ``inbox/``, a
role's ``pool/`` and ``claim-next/``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action, api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from viewflow.workflow.models import Task

from salesflow.clients import selectors as clients
from salesflow.clients import services as client_base
from salesflow.clients.models import Client, Contact, Lead
from salesflow.conveyor import services as conveyor
from salesflow.conveyor.selectors import lead_of
from salesflow.exceptions import NotFound
from salesflow.intake import services as intake
from salesflow.queues import claims
from salesflow.queues import selectors as pools
from salesflow.queues.access import access_pool, access_task
from salesflow.reports.access import access_daily_report
from salesflow.reports.exports import report_document
from salesflow.reports.funnel import access_funnel, funnel_document
from salesflow.targets.access import access_scorecard, access_team_grid
from salesflow.targets.exports import scorecard_document
from salesflow.targets.periods import MONTH, WEEK, Period, period_containing, period_parse
from salesflow.web import person

from . import serializers as s
from .errors import ErrorSerializer
from .services import Answer, idempotent_call, request_fingerprint


def refusals(*codes: int) -> dict[int, Any]:
    """Schema entries for the error answers an endpoint may give (one body shape)."""
    return {code: OpenApiResponse(ErrorSerializer) for code in (401, *codes)}


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="A unique key per lead (a UUID, say): a retry with the same key and body "
    "answers like the first request and creates nothing; the same key with another body "
    "is refused with 409. Printable ASCII, at most 255 characters; kept 7 days.",
)


RETRY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional: a unique key per change. The answer is stored with the change, so "
    "a retry with the same key and body (after a timeout or a 503) gets the first answer "
    "instead of a refusal; the same key with another body is refused with 409.",
)


# Any path segment reaches the view, which answers a non-id with the API's own 404 (the
# router's default pattern would leave "/api/tasks/0.5/" to the site's HTML 404 page).
ANY_ID = "[^/]+"


def object_id(value: str) -> int:
    """A path's id as a database id; anything else names no object (404, never a 500)."""
    if not value.isascii() or not value.isdigit() or int(value) > 2**63 - 1:
        raise NotFound(_("Nothing has the id “%(id)s”.") % {"id": value[:40]})
    return int(value)


def _idempotency_key(request: Request) -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not key:
        raise ValidationError({"Idempotency-Key": [_("This header is required.")]})
    if len(key) > 255 or not all(32 < ord(ch) < 127 for ch in key):
        raise ValidationError(
            {"Idempotency-Key": [_("Use printable ASCII without spaces, at most 255 characters.")]}
        )
    return str(key)


def _answer(answer: Answer) -> Response:
    response = Response(answer.body, status=answer.status)
    if answer.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _task_write(request: Request, call: Callable[[], dict[str, Any]]) -> Response:
    """Run a task's change and build its answer in one transaction, so that a change that
    committed always has its whole answer (the database going away after the commit cannot
    turn a done change into a "try again"). With an ``Idempotency-Key`` the answer is also
    stored with the change: a retry after a lost answer gets it again instead of a refusal
    (the task is done by then)."""
    if "Idempotency-Key" not in request.headers:
        with transaction.atomic():
            return Response(call())
    return _answer(
        idempotent_call(
            user=person(request),
            key=_idempotency_key(request),
            fingerprint=request_fingerprint({"path": request.path, "body": request.data}),
            call=lambda: Answer(status=status.HTTP_200_OK, body=call()),
        )
    )


# --- leads ----------------------------------------------------------------------------------


class LeadViewSet(viewsets.GenericViewSet):
    serializer_class = s.LeadInSerializer

    @extend_schema(
        summary="Create a lead",
        description="Matched against the client base like every channel's leads: a new "
        "company goes to the hunters, a known customer to the account pool, a probable "
        "duplicate waits for a team lead. Needs the permission to enter leads.",
        parameters=[IDEMPOTENCY_KEY],
        request=s.LeadInSerializer,
        responses={201: s.LeadCreatedSerializer, **refusals(400, 403, 409)},
    )
    def create(self, request: Request) -> Response:
        key = _idempotency_key(request)
        serializer = s.LeadInSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        def create_lead() -> Answer:
            result = intake.lead_enter(
                data=serializer.lead_data, user=person(request), source=Lead.Source.API
            )
            body = s.LeadCreatedSerializer(
                {
                    "outcome": result.outcome.value,
                    "reason": result.reason,
                    "lead": result.lead,
                    # not when a phone or e-mail found it: never whose contact it is
                    "client": result.client if result.discloses_client else None,
                    "duplicate_review": result.review.pk if result.review else None,
                }
            ).data
            return Answer(status=status.HTTP_201_CREATED, body=dict(body))

        return _answer(
            idempotent_call(
                user=person(request),
                key=key,
                fingerprint=request_fingerprint(request.data),
                call=create_lead,
            )
        )


# --- tasks ----------------------------------------------------------------------------------


def _task_detail(request: Request, task_id: int) -> dict[str, Any]:
    task = access_task(user=person(request), task_id=task_id)
    lead = lead_of(task)
    notes = conveyor.task_notes(task=task, user=person(request))
    card = clients.client_card(client=lead.client, user=person(request)) if lead else None
    data: dict[str, Any] = s.TaskDetailSerializer(task, context={"notes": notes, "card": card}).data
    return data


def _no_store(response: Response) -> Response:
    """A task's answer carries the client's card: no cache keeps it."""
    response["Cache-Control"] = "no-store"
    return response


def _task_answer(request: Request, task_id: int) -> Response:
    return _no_store(Response(_task_detail(request, task_id)))


def _summary(task_id: int) -> dict[str, Any]:
    task = Task.objects.select_related(*pools.POOL_RELATED).get(pk=task_id)
    data: dict[str, Any] = s.TaskSerializer(task).data
    return data


def _stage_result(pk: str, result: conveyor.StageResult) -> dict[str, Any]:
    return {
        "task": _summary(object_id(pk)),
        "note": result.note.pk if result.note else None,
        "outcome": result.outcome,
    }


ROLE = OpenApiParameter(
    "role", OpenApiTypes.STR, description='A role\'s code, e.g. "hunter".', required=False
)


class TaskViewSet(viewsets.GenericViewSet):
    """A stage's task: read it, take it, give it back, acknowledge, complete, bounce; a
    person's inbox, a role's pool, and "take the next task"."""

    serializer_class = s.TaskDetailSerializer
    queryset = Task.objects.none()  # for the schema: ids are tasks' ids
    lookup_value_regex = ANY_ID

    def _task(self, request: Request, pk: str) -> Task:
        return access_task(user=person(request), task_id=object_id(pk))

    def _page(self, request: Request, tasks: Any) -> Response:
        ids = self.paginate_queryset(tasks.values_list("pk", flat=True))
        rows = pools.page_rows(tasks, ids)
        return self.get_paginated_response(s.TaskSerializer(rows, many=True).data)

    @extend_schema(
        summary="My open tasks, the most urgent first",
        parameters=[ROLE],
        responses={200: s.TaskSerializer(many=True), **refusals(403, 404)},
    )
    @action(detail=False, methods=["get"])
    def inbox(self, request: Request) -> Response:
        code = request.query_params.get("role")
        refs = None
        if code:
            refs = pools.role_task_refs(access_pool(user=person(request), role_code=code))
        return self._page(request, pools.inbox_tasks(user=person(request), task_refs=refs))

    @extend_schema(
        summary="A role's pool: tasks waiting for someone, the most urgent first",
        parameters=[OpenApiParameter("role", OpenApiTypes.STR, required=True)],
        responses={200: s.TaskSerializer(many=True), **refusals(400, 403, 404)},
    )
    @action(detail=False, methods=["get"])
    def pool(self, request: Request) -> Response:
        code = request.query_params.get("role", "")
        if not code:
            raise ValidationError({"role": [_("Say whose pool: a role's code.")]})
        role = access_pool(user=person(request), role_code=code)
        return self._page(request, pools.pool_tasks(task_refs=pools.role_task_refs(role)))

    @extend_schema(
        summary="Take the next task: the most urgent one waiting in my pools",
        request=s.ClaimNextSerializer,
        responses={
            200: s.TaskDetailSerializer,
            204: OpenApiResponse(description="Nothing is waiting for you."),
            **refusals(400, 403, 409),
        },
    )
    @action(detail=False, methods=["post"], url_path="claim-next")
    def claim_next(self, request: Request) -> Response:
        payload = s.ClaimNextSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        task = claims.task_claim_next(user=person(request), role=payload.validated_data.get("role"))
        if task is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return _task_answer(request, task.pk)

    @extend_schema(
        summary="A task with its incoming handoff notes",
        responses={200: s.TaskDetailSerializer, **refusals(403, 404)},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return _task_answer(request, object_id(pk))

    @extend_schema(
        parameters=[RETRY_KEY],
        summary="Take the task from its pool",
        request=None,
        responses={200: s.TaskDetailSerializer, **refusals(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        def claim() -> dict[str, Any]:
            claims.task_claim(task=self._task(request, pk), user=person(request))
            return _task_detail(request, object_id(pk))

        return _no_store(_task_write(request, claim))

    @extend_schema(
        parameters=[RETRY_KEY],
        summary="Give the task back to its pool, unfinished, with a reason",
        request=s.UnassignSerializer,
        responses={200: s.TaskSerializer, **refusals(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def unassign(self, request: Request, pk: str) -> Response:
        payload = s.UnassignSerializer(data=request.data)
        payload.is_valid(raise_exception=True)

        def unassign() -> dict[str, Any]:
            claims.task_unassign(
                task=self._task(request, pk),
                user=person(request),
                reason=payload.validated_data.get("reason", ""),
            )
            return _summary(object_id(pk))

        return _task_write(request, unassign)

    @extend_schema(
        parameters=[RETRY_KEY],
        summary="Acknowledge the handoff note waiting for this stage",
        request=None,
        responses={200: s.AcknowledgedSerializer, **refusals(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        def acknowledge() -> dict[str, Any]:
            note = conveyor.stage_acknowledge(task=self._task(request, pk), user=person(request))
            return {"acknowledged_note": note}

        return _task_write(request, acknowledge)

    @extend_schema(
        parameters=[RETRY_KEY],
        summary="Complete the stage with its handoff note",
        request=s.StageCompleteSerializer,
        responses={200: s.StageResultSerializer, **refusals(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk: str) -> Response:
        payload = s.StageCompleteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data

        def complete() -> dict[str, Any]:
            result = conveyor.stage_complete(
                task=self._task(request, pk),
                user=person(request),
                data=data.get("data", {}),
                handoff=data.get("handoff"),
                note_text=data.get("note_text", ""),
                acknowledge=data.get("acknowledge", False),
            )
            return _stage_result(pk, result)

        return _task_write(request, complete)

    @extend_schema(
        parameters=[RETRY_KEY],
        summary="Send the deal back to the stage before, with a question",
        request=s.BounceSerializer,
        responses={200: s.StageResultSerializer, **refusals(400, 403, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def bounce(self, request: Request, pk: str) -> Response:
        payload = s.BounceSerializer(data=request.data)
        payload.is_valid(raise_exception=True)

        def bounce() -> dict[str, Any]:
            result = conveyor.stage_bounce(
                task=self._task(request, pk),
                user=person(request),
                question={"question": payload.validated_data["question"]},
                note_text=payload.validated_data.get("note_text", ""),
            )
            return _stage_result(pk, result)

        return _task_write(request, bounce)


# --- the client base --------------------------------------------------------------------------


class ClientViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The client base. Contacts are masked in the list for everyone, and in a client's
    card unless the caller holds one of its tasks; see POST /api/contacts/{id}/reveal/."""

    serializer_class = s.ClientListSerializer
    lookup_value_regex = ANY_ID

    def get_queryset(self) -> QuerySet[Client]:
        return clients.client_list(search=self.request.query_params.get("search", "")[:200])

    @extend_schema(
        summary="Clients, contacts masked",
        parameters=[OpenApiParameter("search", OpenApiTypes.STR, description="Name or tax number")],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="A client's card", responses={200: s.ClientDetailSerializer, **refusals(404)}
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        client = clients.client_for_card(client_id=object_id(pk))
        if client is None or client.merged_into_id is not None:
            raise NotFound(_("Client #%(id)s does not exist.") % {"id": pk})
        card = clients.client_card(client=client, user=person(request))
        return Response(s.ClientDetailSerializer(card).data)

    @extend_schema(
        summary="Export the client base (CSV, contacts in full)",
        description="Needs the export permission; recorded in the audit trail and counted "
        "by the leak watch. A POST: an export is an action, never a link another site could "
        "make a browser follow. Cells starting with =, +, -, @ are written as text.",
        request=None,
        responses={(200, "text/csv"): OpenApiTypes.STR, **refusals(403)},
    )
    @action(detail=False, methods=["post"])
    def export(self, request: Request) -> StreamingHttpResponse:
        lines = client_base.clients_export(user=person(request))
        response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="clients-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response


class ContactViewSet(viewsets.GenericViewSet):
    serializer_class = s.ContactSerializer
    queryset = Contact.objects.none()  # for the schema: ids are contacts' ids
    lookup_value_regex = ANY_ID

    @extend_schema(
        summary="Reveal a contact's phone and e-mail",
        description="For a person holding one of the client's tasks or in a role that needs "
        "its contacts; recorded in the audit trail.",
        request=s.RevealSerializer,
        responses={200: s.ContactSerializer, **refusals(400, 403, 404)},
    )
    @action(detail=True, methods=["post"])
    def reveal(self, request: Request, pk: str) -> Response:
        payload = s.RevealSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        task = None
        if payload.validated_data.get("task") is not None:
            task = Task.objects.filter(pk=payload.validated_data["task"]).first()
            if task is None:
                raise NotFound(
                    _("Task #%(id)s does not exist.") % {"id": payload.validated_data["task"]}
                )
        card = client_base.contact_reveal(contact_id=object_id(pk), user=person(request), task=task)
        response = Response(s.ContactSerializer(card).data)
        response["Cache-Control"] = "no-store"
        return response


# --- the daily report -------------------------------------------------------------------------


class ReportViewSet(viewsets.GenericViewSet):
    """Stored daily queue reports (team leads and admins, as the report page)."""

    serializer_class = s.ReportDaySerializer
    lookup_field = "day"
    lookup_value_regex = ANY_ID

    @extend_schema(
        summary="A day's queue report",
        description="The stored report of that day (built every morning for the day "
        "before, or by `salesflow report daily --date D`), as the JSON export has it.",
        responses={200: OpenApiTypes.OBJECT, **refusals(400, 403, 404)},
    )
    def retrieve(self, request: Request, day: str) -> Response:
        payload = s.ReportDaySerializer(data={"day": day})
        payload.is_valid(raise_exception=True)
        report = access_daily_report(user=person(request), day=payload.validated_data["day"])
        return Response(report_document(report))


def _query_day(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError({name: [_("Write a day as YYYY-MM-DD.")]}) from None


@extend_schema(
    summary="The funnel and forecast of a date range (team leads and admins)",
    parameters=[
        OpenApiParameter("from", OpenApiTypes.DATE, required=True),
        OpenApiParameter("to", OpenApiTypes.DATE, required=True),
    ],
    responses={200: OpenApiTypes.OBJECT, **refusals(400, 403)},
)
@api_view(["GET"])
def funnel_view(request: Request) -> Response:
    result = access_funnel(
        user=person(request), first=_query_day(request, "from"), last=_query_day(request, "to")
    )
    return Response(funnel_document(result))


def _period(request: Request, default_kind: str) -> Period:
    text = request.query_params.get("period", "")
    if not text:
        return period_containing(default_kind, timezone.localdate())
    return period_parse(text)


PERIOD = OpenApiParameter(
    "period", str, description="2026-12-07 (a day), 2026-W49 (an ISO week) or 2026-12 (a month)"
)


class ScorecardViewSet(viewsets.GenericViewSet):
    """Scorecards, with the pages' access rules: a person reads their own, a team lead
    anyone's and the team grid."""

    @extend_schema(
        summary="My scorecard",
        parameters=[PERIOD],
        responses={200: OpenApiTypes.OBJECT, **refusals(400, 403)},
    )
    @action(detail=False, url_path="me")
    def me(self, request: Request) -> Response:
        card = access_scorecard(
            viewer=person(request), person_id=None, period=_period(request, WEEK)
        )
        return Response(scorecard_document(card))

    @extend_schema(
        summary="A person's scorecard",
        description="Their own for anyone; anyone's for a team lead.",
        parameters=[PERIOD, OpenApiParameter("id", int, OpenApiParameter.PATH)],
        responses={200: OpenApiTypes.OBJECT, **refusals(400, 403, 404)},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        if not pk.isdigit():
            raise NotFound(_("There is no such person."))
        card = access_scorecard(
            viewer=person(request), person_id=int(pk), period=_period(request, WEEK)
        )
        return Response(scorecard_document(card))

    @extend_schema(
        summary="The team grid, worst attainment first (team leads)",
        parameters=[PERIOD],
        responses={200: OpenApiTypes.OBJECT, **refusals(400, 403)},
    )
    @action(detail=False, url_path="team")
    def team(self, request: Request) -> Response:
        grid = access_team_grid(viewer=person(request), period=_period(request, MONTH))
        return Response({"results": [scorecard_document(card) for card in grid]})


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@permission_classes([AllowAny])
def not_found(request: Request, path: str = "") -> Response:
    """Any other ``/api/`` address: a 404 in the API's error shape, not the site's page."""
    raise NotFound(_("There is no such API endpoint."))
