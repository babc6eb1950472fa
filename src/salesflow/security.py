"""Who is asking: the client's address, as login throttling and the web form's limit see it.

Five wrong passwords lock a username out *from an address* (django-axes), and the public
web form is limited per address (django-ratelimit); both ask ``client_address``, so the
rule exists once. It must not be something the client can choose:

* With no proxy in front (``PROXY_COUNT=0``, the default) the address is the peer of the
  connection, ``REMOTE_ADDR``. An ``X-Forwarded-For`` header is whatever the client wrote
  and is never read: sending a new one with every guess must not escape the lockout.
* Behind ``PROXY_COUNT`` proxies, each appending the address it was connected from to
  ``X-Forwarded-For`` (nginx's ``$proxy_add_x_forwarded_for``, load balancers), the
  client's address is the one the outermost proxy appended: the ``PROXY_COUNT``-th entry
  from the right. Whatever the client put in the header stands to the left of it and is
  never read. django-ipware finds it; it counts the proxies *listed after* the client --
  one fewer than the proxies in front, the last of which is ``REMOTE_ADDR``.
* A request whose header is shorter than that did not come through the proxies (a probe
  inside the network): it is known by ``REMOTE_ADDR``.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ipware.ip import get_client_ip


def client_address(request: HttpRequest) -> str:
    """The client's address (see the module's docstring)."""
    peer = str(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.PROXY_COUNT
    if not proxies:
        return peer
    address, _routable = get_client_ip(
        request,
        proxy_order="left-most",
        proxy_count=proxies - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    return str(address or peer)


class NoStoreMiddleware:
    """Every page and API answer of the application is ``Cache-Control: no-store`` unless
    its view said otherwise: what a signed-in person sees -- a contact shown, a handoff
    note, an export -- must not stay in a browser's or a proxy's cache. Static files are
    answered before this middleware (WhiteNoise) and keep their long cache."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


# --- the development defaults stay on this machine -------------------------------------

_DEFAULTS_REFUSED = (
    "SALESFLOW_ENV is not set, so salesflow runs with its development defaults (DEBUG on, "
    "the published SECRET_KEY) -- and {what} is not this machine (127.0.0.1). Set "
    "SALESFLOW_ENV=production and its variables (docs/deploy.md), or SALESFLOW_ENV="
    "development to run the development defaults there on purpose."
)


def is_loopback(host: str) -> bool:
    """Whether a bind address or a peer is this machine (a Unix socket counts)."""
    host = host.strip().strip("[]")
    if not host or host.startswith("unix:") or host.startswith("/") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def development_defaults_refusal(*, where: str, host: str) -> str | None:
    """Why a web server bound to ``host`` (or a worker whose broker is there) may not
    start, or None: with ``SALESFLOW_ENV`` unset -- the development defaults by omission --
    only on 127.0.0.1. An explicit ``SALESFLOW_ENV`` (either) is a decision and is kept."""
    if settings.SALESFLOW_ENV_EXPLICIT or is_loopback(host):
        return None
    return _DEFAULTS_REFUSED.format(what=f"{where} {host}")


def bind_hosts(argv: list[str], environ: Mapping[str, str]) -> list[str]:
    """The hosts a gunicorn command line binds (``-b``/``--bind``, also from
    ``GUNICORN_CMD_ARGS``); gunicorn's own default is 127.0.0.1."""
    words = [*argv, *shlex.split(environ.get("GUNICORN_CMD_ARGS", ""))]
    binds = []
    for index, word in enumerate(words):
        if word in ("-b", "--bind") and index + 1 < len(words):
            binds.append(words[index + 1])
        elif word.startswith("--bind="):
            binds.append(word.split("=", 1)[1])
        elif word.startswith("-b") and len(word) > 2:
            binds.append(word[2:])
    return [_host_of(bind) for bind in binds]


def _host_of(bind: str) -> str:
    if bind.startswith(("unix:", "fd://")):
        return "unix:"
    if bind.startswith("["):
        return bind[: bind.index("]") + 1]
    host = bind.rsplit(":", 1)[0] if ":" in bind else bind
    return host or "0.0.0.0"  # ":8000" is every address


class DevelopmentDefaultsGuard:
    """WSGI middleware: with the development defaults by omission, a request from another
    machine is refused (503, saying why) -- whatever address the server was bound to."""

    def __init__(self, application: Any) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        if not settings.SALESFLOW_ENV_EXPLICIT and not is_loopback(peer):
            message = _DEFAULTS_REFUSED.format(what=f"the client {peer}")
            start_response(
                "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
            )
            return [message.encode()]
        return self.application(environ, start_response)
