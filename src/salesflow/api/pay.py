"""``/api/pay/...``: statements, disputes and closing a month, with the pages' rules
(``salesflow.pay.access``): a person their own statement and disputes, team leads and
admins everyone's statement and the payroll exports, admins close. Thin: parse, check,
call, answer. A dispute is decided in the disputes flow's task (``/api/tasks/``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from salesflow.exceptions import NotFound, SalesflowError
from salesflow.pay.access import access_statement, access_team
from salesflow.pay.disputes import DisputeView, disputes_of, pay_dispute_open
from salesflow.pay.exports import CONTENT_TYPES, file_name, statement_file
from salesflow.pay.models import PayDispute
from salesflow.pay.selectors import parse_month, statement, statement_as_data
from salesflow.pay.services import pay_period_close
from salesflow.web import person

from .views import refusals


def _month(period: str) -> date:
    try:
        return parse_month(period)
    except ValueError as exc:
        raise SalesflowError(str(exc), errors={"period": [str(exc)]}) from None


class MyStatementView(APIView):
    @extend_schema(
        summary="My statement",
        description="The signed-in person's pay for a month (`so_far` while it is open).",
        responses={200: OpenApiTypes.OBJECT, **refusals(400)},
    )
    def get(self, request: Request, period: str) -> Response:
        user = person(request)
        month = _month(period)
        access_statement(viewer=user, person_id=user.pk)
        return Response(statement_as_data(statement(month=month, user_ids=[user.pk])))


class PersonStatementView(APIView):
    @extend_schema(
        summary="A person's statement",
        description="Their own for everyone; anyone's for team leads and admins.",
        parameters=[OpenApiParameter("user_id", int, OpenApiParameter.PATH)],
        responses={200: OpenApiTypes.OBJECT, **refusals(400, 403, 404)},
    )
    def get(self, request: Request, period: str, user_id: int) -> Response:
        viewer = person(request)
        month = _month(period)
        if user_id > 2**31 - 1:
            raise NotFound(_("Nobody has the id “%(id)s”.") % {"id": user_id})
        access_statement(viewer=viewer, person_id=user_id)
        return Response(statement_as_data(statement(month=month, user_ids=[user_id])))


class TeamStatementView(APIView):
    @extend_schema(
        summary="The team's statement",
        description="Everyone's pay for the month: team leads and admins. `?as=csv` or "
        "`?as=xlsx` gives the payroll file (a row per person, then the lines).",
        parameters=[OpenApiParameter("as", str, enum=["json", "csv", "xlsx"])],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.STR,
            (200, CONTENT_TYPES["xlsx"]): OpenApiTypes.BINARY,
            **refusals(400, 403),
        },
    )
    def get(self, request: Request, period: str) -> Response | HttpResponse:
        viewer = person(request)
        month = _month(period)
        access_team(viewer)
        file_format = request.query_params.get("as", "json")
        if file_format not in CONTENT_TYPES:
            raise SalesflowError(_("“as” must be json, csv or xlsx."))
        result = statement(month=month)
        if file_format == "json":
            return Response(statement_as_data(result))
        response = HttpResponse(
            statement_file(result, file_format), content_type=CONTENT_TYPES[file_format]
        )
        response["Content-Disposition"] = f'attachment; filename="{file_name(result, file_format)}"'
        response["Cache-Control"] = "no-store"
        return response


class CloseView(APIView):
    @extend_schema(
        summary="Close a month",
        description="Freezes a month that is over (admins). Refused (409) when it is not over, "
        "is closed already or has a pay dispute waiting for a decision.",
        request=None,
        responses={201: OpenApiTypes.OBJECT, **refusals(400, 403, 409)},
    )
    def post(self, request: Request, period: str) -> Response:
        period_ = pay_period_close(month=_month(period), user=person(request))
        data: dict[str, Any] = {
            "period": f"{period_.month:%Y-%m}",
            "closed": period_.closed.isoformat(),
            "total": str(period_.total),
        }
        return Response(data, status=status.HTTP_201_CREATED)


class DisputeInSerializer(serializers.Serializer):
    """A line of the signed-in person's statement for the month, and why it is wrong."""

    deal = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=2**63 - 1,
        help_text="The deal's line (its process id, as `lines[].deal`); omitted or null: "
        "the month's total.",
    )
    stage = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="The line's stage (`lines[].stage`, such as `conveyor.qualify`); empty for "
        "a line of the deal without one.",
    )
    reason = serializers.CharField(max_length=2000, help_text="What is wrong with the line.")


class DisputeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = serializers.CharField()
    line = serializers.CharField(help_text="`total`, or `<deal>:<stage>`.")
    deal = serializers.IntegerField(allow_null=True)
    stage = serializers.CharField()
    description = serializers.CharField(help_text="The line in words.")
    pay = serializers.DecimalField(max_digits=16, decimal_places=2)
    reason = serializers.CharField()
    status = serializers.ChoiceField(choices=PayDispute.Status.values)
    created = serializers.DateTimeField()
    answer = serializers.CharField()
    decided = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField()
    adjustment = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    paid_in = serializers.CharField(allow_null=True, help_text="The month the adjustment is in.")


def _dispute_data(view: DisputeView) -> dict[str, Any]:
    dispute = view.dispute
    adjustment = dispute.adjustment
    return {
        "id": dispute.pk,
        "period": f"{dispute.month:%Y-%m}",
        "line": dispute.line,
        "deal": dispute.process_id,
        "stage": dispute.node,
        "description": view.line,
        "pay": str(dispute.pay),
        "reason": dispute.reason,
        "status": dispute.status,
        "created": dispute.created.isoformat(),
        "answer": dispute.answer,
        "decided": dispute.decided.isoformat() if dispute.decided else None,
        "decided_by": view.decider,
        "adjustment": str(adjustment.amount) if adjustment is not None else None,
        "paid_in": f"{adjustment.month:%Y-%m}" if adjustment is not None else None,
    }


class DisputesView(APIView):
    @extend_schema(
        summary="My disputes",
        description="The signed-in person's pay disputes about the month, with their state "
        "and the team lead's answer.",
        responses={200: DisputeSerializer(many=True), **refusals(400)},
    )
    def get(self, request: Request, period: str) -> Response:
        user = person(request)
        month = _month(period)
        return Response([_dispute_data(view) for view in disputes_of(user_id=user.pk, month=month)])

    @extend_schema(
        summary="Dispute a line of my statement",
        description="Disputes a line of the signed-in person's own statement for the month "
        "(a deal's stage, or the total), with a reason: a team lead decides it in the "
        "disputes flow. Refused: a line that is not the person's (403), a line disputed "
        "already (409). A closed month may be disputed: an accepted dispute is paid in the "
        "next open month.",
        request=DisputeInSerializer,
        responses={201: DisputeSerializer, **refusals(400, 403, 409)},
    )
    def post(self, request: Request, period: str) -> Response:
        user = person(request)
        month = _month(period)
        body = DisputeInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        dispute = pay_dispute_open(
            person=user,
            month=month,
            deal=body.validated_data.get("deal"),
            stage=body.validated_data.get("stage", ""),
            reason=body.validated_data["reason"],
        )
        view = next(v for v in disputes_of(user_id=user.pk, month=month) if v.dispute == dispute)
        return Response(_dispute_data(view), status=status.HTTP_201_CREATED)
