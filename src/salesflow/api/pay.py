"""``/api/pay/...``: statements and closing a month, with the pages' rules
(``salesflow.pay.access``): a person their own statement, team leads and admins
everyone's and the payroll exports, admins close. Thin: parse, check, call, answer."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from salesflow.exceptions import NotFound, SalesflowError
from salesflow.pay.access import access_statement, access_team
from salesflow.pay.exports import CONTENT_TYPES, file_name, statement_file
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
        description="Freezes a month that is over (admins). Refused (409) when it is not over "
        "or closed already.",
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
