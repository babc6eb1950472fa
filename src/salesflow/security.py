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
