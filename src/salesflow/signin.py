"""Signing in: the site's sign-in pages (viewflow's), with the password reset throttled.

Guessing passwords is limited by django-axes (per username across addresses, and per
address across usernames: ``AXES_LOCKOUT_PARAMETERS``). A password reset sends an e-mail
to whoever owns the address typed in, so it is limited too -- per client address and per
address typed (``SALESFLOW_PASSWORD_RESET_RATE``, counted in the shared cache): a flood of
reset e-mails is not a way to harass people or to probe which addresses have accounts.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django_ratelimit.core import is_ratelimited
from viewflow.contrib.auth import AuthViewset


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limited = [
            is_ratelimited(
                request,
                group=f"salesflow.password_reset.{key}",
                key=key,
                rate=settings.SALESFLOW_PASSWORD_RESET_RATE,
                method="POST",
                increment=True,
            )
            for key in ("ip", "post:email")
        ]
        if any(limited):
            form = self.get_form()
            form.is_valid()
            form.add_error(
                "email", _("Too many password resets were asked for: try again in an hour.")
            )
            response = self.render_to_response(self.get_context_data(form=form))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)


class SigninViewset(AuthViewset):
    pass_reset_view_class = ThrottledPasswordResetView
