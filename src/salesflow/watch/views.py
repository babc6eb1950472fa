"""The team console's action of the leak watch: clear a person's suspended reveals.

Thin: parse, call ``services.suspension_clear``, answer; a refusal is shown with its
message and status, and nothing is written."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from salesflow.exceptions import NotPermitted, SalesflowError
from salesflow.people import display_name
from salesflow.roles import can_manage_queues

from . import services


@require_POST
def suspension_clear(request: HttpRequest, user_id: int) -> HttpResponse:
    if not can_manage_queues(request.user):
        raise PermissionDenied
    console = reverse("work:console")
    try:
        person = services.alerted_person(user_id=user_id)
        services.suspension_clear(
            user=person,
            by=request.user,  # type: ignore[arg-type]
            reason=request.POST.get("reason", "")[:2000],
        )
    except NotPermitted as error:
        raise PermissionDenied(error.message) from None
    except SalesflowError as error:
        messages.error(request, error.message)
        return HttpResponseRedirect(console)
    messages.success(request, _("%(who)s may show contacts again.") % {"who": display_name(person)})
    return HttpResponseRedirect(console)
