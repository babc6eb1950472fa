"""The API of the company's memory: a client's timeline (paged by cursor) and the calls a
telephone exchange reports. Thin, like every API view: parse, check through the engine
(``activities.access``, ``activities.calls``), answer; refusals in the API's one shape."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from viewflow.workflow.models import Task

from salesflow.activities.access import access_client
from salesflow.activities.calls import STATUSES, call_receive
from salesflow.activities.paging import TimelinePages
from salesflow.activities.selectors import task_handover
from salesflow.activities.timeline import KINDS, Entry, client_timeline, parse_kinds
from salesflow.exceptions import NotFound

from .errors import ErrorSerializer


def _refusals(*codes: int) -> dict[int, Any]:
    return {code: OpenApiResponse(ErrorSerializer) for code in codes}


def _client_id(value: str) -> int:
    if not value.isascii() or not value.isdigit() or int(value) > 2**63 - 1:
        raise NotFound(_("Nothing has the id “%(id)s”.") % {"id": value[:40]})
    return int(value)


# --- the timeline -------------------------------------------------------------------------------


class EntryFieldSerializer(serializers.Serializer):
    label = serializers.CharField()
    value = serializers.CharField()


class EntrySerializer(serializers.Serializer):
    """One entry of a timeline as the caller may see it: a ``hidden`` entry says what kind
    of thing happened, when and who of the company did it -- not what was said."""

    at = serializers.DateTimeField()
    kind = serializers.ChoiceField(choices=list(KINDS))
    title = serializers.CharField()
    who = serializers.CharField(help_text="The employee who did it, as people are shown.")
    hidden = serializers.BooleanField()
    subject = serializers.CharField()
    text = serializers.CharField(help_text="What happened (its first 800 characters).")
    fields = serializers.SerializerMethodField(method_name="entry_fields")
    contact = serializers.CharField(help_text="The client's person it was with.")
    counterpart = serializers.CharField(
        help_text="Their number or address: masked unless you hold one of the client's tasks."
    )
    direction = serializers.CharField()
    outcome = serializers.CharField()
    duration = serializers.IntegerField(allow_null=True, help_text="Seconds.")
    next_step = serializers.CharField()
    next_step_date = serializers.DateField(allow_null=True)
    mail_id = serializers.IntegerField(allow_null=True)
    attachments = serializers.IntegerField()
    recording_url = serializers.CharField()

    @extend_schema_field(EntryFieldSerializer(many=True))
    def entry_fields(self, entry: Entry) -> list[dict[str, str]]:
        return [{"label": label, "value": value} for label, value in entry.rows]


class TimelineView(APIView):
    """``GET /api/clients/{id}/timeline/``"""

    pagination_class = TimelinePages

    @extend_schema(
        summary="A client's timeline, newest first, paged by cursor",
        description="Deals, stages, handoff notes, calls, meetings, proposals, notes, e-mail, "
        "work moved with its reasons -- and, for team leads, reveals and exports of the "
        "client's contacts. What was said is shown to the holder of one of the client's "
        "tasks and to the roles entitled to its contacts; others see what happened and when. "
        "Follow `next` for older entries.",
        parameters=[
            OpenApiParameter(
                "kind",
                OpenApiTypes.STR,
                many=True,
                description=f"Only these kinds (repeat, or comma-separated): {', '.join(KINDS)}.",
            ),
            OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next`/`previous`."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description="Entries per page (25; at most 100)."
            ),
        ],
        responses={200: EntrySerializer(many=True), **_refusals(401, 404)},
    )
    def get(self, request: Request, pk: str) -> Response:
        client, viewer = access_client(user=request.user, client_id=_client_id(pk))
        kinds = parse_kinds(request.query_params.getlist("kind"))
        pages = TimelinePages()
        entries = pages.paginate_queryset(
            client_timeline(client=client, viewer=viewer, kinds=kinds), request, view=self
        )
        response = pages.get_paginated_response(EntrySerializer(entries, many=True).data)
        response["Cache-Control"] = "no-store"
        return response


# --- calls from the telephone exchange ----------------------------------------------------------


class CallInSerializer(serializers.Serializer):
    """The body an exchange sends (for the schema: the service reads the signed bytes)."""

    call_id = serializers.CharField(max_length=200, help_text="The exchange's own id of the call.")
    direction = serializers.ChoiceField(choices=["in", "out"])
    number = serializers.CharField(max_length=50, help_text="The client's side.")
    started = serializers.DateTimeField(help_text="ISO 8601 with its offset.")
    duration = serializers.IntegerField(min_value=0, max_value=86400, help_text="Seconds.")
    status = serializers.ChoiceField(choices=list(STATUSES))
    recording_url = serializers.URLField(required=False, max_length=1000)
    agent = serializers.CharField(required=False, help_text="The employee's user name or e-mail.")


class CallRecordedSerializer(serializers.Serializer):
    activity = serializers.IntegerField()
    call_id = serializers.CharField()
    client = serializers.IntegerField(allow_null=True, help_text="Null: on the triage list.")
    duplicate = serializers.BooleanField(help_text="The exchange reported this call before.")


def _header(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
                            description=description)  # fmt: skip


class CallView(APIView):
    """``POST /api/calls/``: authenticated by its signature, not by a user's token."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Report a call (telephone exchanges)",
        description="Signed with the exchange's secret: HMAC-SHA256 of the timestamp, a dot and "
        "the exact body. Idempotent by call_id. The number is matched to a client by its "
        "normalised form; an unknown one goes to the team leads' triage list.",
        parameters=[
            _header("X-Salesflow-Exchange", "The exchange's name as registered."),
            _header(
                "X-Salesflow-Timestamp", "Unix seconds; at most 300 s from the server's clock."
            ),
            _header("X-Salesflow-Signature", "sha256=<hex HMAC-SHA256>"),
        ],
        request=CallInSerializer,
        responses={
            201: CallRecordedSerializer,
            200: OpenApiResponse(CallRecordedSerializer, description="Reported before."),
            **_refusals(400, 401),
        },
    )
    def post(self, request: Request) -> Response:
        recorded = call_receive(
            exchange=request.headers.get("X-Salesflow-Exchange", ""),
            timestamp=request.headers.get("X-Salesflow-Timestamp", ""),
            signature=request.headers.get("X-Salesflow-Signature", ""),
            body=request.body,
        )
        body = {
            "activity": recorded.activity.pk,
            "call_id": recorded.call.call_id,
            "client": recorded.activity.client_id,
            "duplicate": not recorded.created,
        }
        return Response(
            body, status=status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
        )


# --- handover: for the task detail ---------------------------------------------------------------


class HandoverSerializer(serializers.Serializer):
    """Why the task changed hands last: a team lead's move, an offboarding, a return to the
    pool -- with the reason the receiver should read."""

    at = serializers.DateTimeField()
    action = serializers.ChoiceField(choices=["reassign", "unassign"])
    by = serializers.CharField()
    from_person = serializers.CharField()
    to_person = serializers.CharField()
    reason = serializers.CharField()


def handover_of(task: Task) -> dict[str, Any] | None:
    handover = task_handover(task=task)
    return dict(HandoverSerializer(handover).data) if handover is not None else None
