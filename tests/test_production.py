"""The production profile: Django's deploy checklist, health, request ids, throttling."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from salesflow.celery import app as celery_app
from salesflow.logs import ContextFilter, JsonFormatter

PRODUCTION_ENV = {
    "SALESFLOW_ENV": "production",
    "SECRET_KEY": "k" * 20 + "-production-secret-not-for-real-use-" + "z" * 20,
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/salesflow",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "sales.example.com",
    "DJANGO_SETTINGS_MODULE": "salesflow.settings",
}


def test_the_production_profile_passes_djangos_deploy_checklist():
    result = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env={**os.environ, **PRODUCTION_ENV},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db
def test_health_says_ok_when_database_and_broker_answer(redis_url):
    celery_app.conf.broker_url = redis_url
    try:
        response = Client().get("/health/")
    finally:
        celery_app.conf.broker_url = None
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_health_names_the_broker_when_it_is_down():
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    try:
        response = Client().get("/health/")
    finally:
        celery_app.conf.broker_url = None
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == "ok"
    assert body["broker"].startswith("error:")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sent,kept",
    [("abc-123.def_4", True), ("", False), ("no spaces allowed", False), ("x" * 65, False)],
)
def test_every_response_carries_a_request_id(sent, kept):
    headers = {"HTTP_X_REQUEST_ID": sent} if sent else {}
    response = Client().get("/accounts/login/", **headers)
    request_id = response["X-Request-ID"]
    if kept:
        assert request_id == sent
    else:
        assert request_id != sent and len(request_id) == 32


def test_a_json_log_line_carries_the_request_and_task_ids():
    from salesflow.logs import current_request_id, current_task_id

    record = logging.LogRecord("salesflow", logging.WARNING, __file__, 1, "claimed %s", (7,), None)
    request_token, task_token = current_request_id.set("req-1"), current_task_id.set("task-9")
    try:
        ContextFilter().filter(record)
    finally:
        current_request_id.reset(request_token)
        current_task_id.reset(task_token)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "claimed 7"
    assert (line["request_id"], line["task_id"], line["level"]) == ("req-1", "task-9", "WARNING")


@pytest.mark.django_db
@override_settings(AXES_ENABLED=True)
def test_five_wrong_passwords_lock_the_username_out_from_every_address(staff):
    hunter = staff["hunter"][0]
    browser = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(4):
        wrong = browser.post("/accounts/login/", {"username": hunter.username, "password": "nope"})
        assert wrong.status_code == 200  # the form again, with its error
    fifth = browser.post("/accounts/login/", {"username": hunter.username, "password": "nope"})
    assert fifth.status_code == 429

    locked = browser.post("/accounts/login/", {"username": hunter.username, "password": "pw"})

    assert locked.status_code == 429
    assert "locked for a while after too many wrong passwords" in locked.content.decode()
    assert "_auth_user_id" not in browser.session
    # the username is locked from another address too (guesses spread over addresses
    # count together); another person signs in from there as usual
    elsewhere = Client(REMOTE_ADDR="10.0.0.8")
    again = elsewhere.post("/accounts/login/", {"username": hunter.username, "password": "pw"})
    assert again.status_code == 429
    colleague = staff["hunter"][1]
    ok = elsewhere.post("/accounts/login/", {"username": colleague.username, "password": "pw"})
    assert ok.status_code == 302


# --- the client's address: no proxy, or behind PROXY_COUNT of them ------------------------

PROXY = "10.0.0.2"  # the address gunicorn sees when nginx is in front


@pytest.mark.parametrize(
    "proxies,peer,forwarded,address",
    [
        (0, "198.51.100.7", None, "198.51.100.7"),
        (0, "198.51.100.7", "203.0.113.9", "198.51.100.7"),  # a client's own header
        (1, PROXY, "203.0.113.9", "203.0.113.9"),
        (1, PROXY, "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # the client wrote "6.6.6.6"
        (1, PROXY, "7.7.7.7, 6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (1, PROXY, "not-an-address, 203.0.113.9", "203.0.113.9"),
        (1, PROXY, "2001:db8::5", "2001:db8::5"),
        (1, PROXY, None, PROXY),  # it did not come through the proxy
        (2, PROXY, "203.0.113.9, 10.0.0.3", "203.0.113.9"),  # load balancer, then nginx
        (2, PROXY, "6.6.6.6, 203.0.113.9, 10.0.0.3", "203.0.113.9"),
    ],
)
def test_the_clients_address_is_the_one_the_outermost_proxy_saw(
    settings, proxies, peer, forwarded, address
):
    from django.test import RequestFactory

    from salesflow.security import client_address

    settings.PROXY_COUNT = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR=peer, **headers)
    assert client_address(request) == address


def _wrong_password(browser: Client, username: str, forwarded: str | None = None, **extra):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return browser.post(
        "/accounts/login/", {"username": username, "password": "nope"}, **headers, **extra
    )


@pytest.mark.django_db
@override_settings(AXES_ENABLED=True, PROXY_COUNT=0)
def test_without_a_proxy_a_forged_forwarded_for_does_not_escape_the_lockout(staff):
    from axes.models import AccessAttempt

    hunter = staff["hunter"][0]
    browser = Client(REMOTE_ADDR="198.51.100.7")
    answers = [
        _wrong_password(browser, hunter.username, forwarded=f"203.0.113.{n}").status_code
        for n in range(5)  # a new "address" with every guess
    ]
    assert answers == [200, 200, 200, 200, 429]
    attempt = AccessAttempt.objects.get()
    assert (attempt.ip_address, attempt.failures_since_start) == ("198.51.100.7", 5)
    right = browser.post(
        "/accounts/login/",
        {"username": hunter.username, "password": "pw"},
        HTTP_X_FORWARDED_FOR="192.0.2.1",
    )
    assert right.status_code == 429 and "_auth_user_id" not in browser.session


@pytest.mark.django_db
@override_settings(AXES_ENABLED=True, PROXY_COUNT=1)
def test_behind_a_proxy_the_lockout_is_per_client_address(staff):
    names = [person.username for people in staff.values() for person in people]
    through_proxy = {"REMOTE_ADDR": PROXY}
    attacker, colleague = Client(**through_proxy), Client(**through_proxy)
    answers = [
        # the attacker sprays usernames and varies what they send; the proxy appends
        # their real address, which is what is locked
        _wrong_password(attacker, name, forwarded=f"6.6.6.{n}, 203.0.113.9")
        for n, name in enumerate(names[:5])
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    # someone at another address, through the same proxy, still signs in
    ok = colleague.post(
        "/accounts/login/",
        {"username": names[6], "password": "pw"},
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert ok.status_code == 302
    locked = attacker.post(
        "/accounts/login/",
        {"username": names[7], "password": "pw"},
        HTTP_X_FORWARDED_FOR="203.0.113.9",
    )
    assert locked.status_code == 429


@pytest.mark.django_db
@override_settings(PROXY_COUNT=1, SALESFLOW_WEB_FORM_RATE="2/h")
def test_behind_a_proxy_the_web_form_is_limited_per_client_not_per_proxy():
    from django.core.cache import cache

    from salesflow.clients.models import Lead

    from .test_intake import FORM

    def submit(forwarded: str, phone: str):
        browser = Client(enforce_csrf_checks=True, REMOTE_ADDR=PROXY)
        page = browser.get("/leads/form/", HTTP_X_FORWARDED_FOR=forwarded)
        token = page.cookies["csrftoken"].value
        values = {**FORM, "phone": phone, "csrfmiddlewaretoken": token}
        return browser.post("/leads/form/", values, HTTP_X_FORWARDED_FOR=forwarded)

    cache.clear()
    try:
        first = [submit(f"6.6.6.{n}, 203.0.113.9", f"+7 913 000 12 2{n}") for n in range(3)]
        assert [r.status_code for r in first] == [302, 302, 429]  # forging did not help
        assert submit("198.51.100.20", "+7 913 000 12 29").status_code == 302  # another client
        assert Lead.objects.count() == 3
    finally:
        cache.clear()


# --- the database away: a clear answer, not a server error ----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/work/pools/hunter/", "/api/tasks/pool/?role=hunter"])
def test_a_request_the_database_fails_gets_a_503_saying_to_try_again(staff, monkeypatch, path):
    from django.db import OperationalError

    from salesflow.queues import selectors

    def database_away(**kwargs):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(selectors, "pool_tasks", database_away)
    browser = Client(raise_request_exception=False)
    browser.force_login(staff["hunter"][0])

    response = browser.get(path)

    assert response.status_code == 503 and response["Retry-After"] == "5"
    body = response.content.decode()
    assert "The database is not answering, so nothing was saved" in body
    if path.startswith("/api/"):
        assert response.json()["errors"] == {}


@pytest.mark.django_db
def test_any_other_failure_is_still_a_plain_server_error(staff, monkeypatch):
    from salesflow.queues import selectors

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "pool_tasks", broken)
    browser = Client(raise_request_exception=False)
    browser.force_login(staff["hunter"][0])
    response = browser.get("/work/pools/hunter/")
    assert response.status_code == 500 and not response.has_header("Retry-After")


def _settings_under(env: dict[str, str], *names: str) -> list[str]:
    code = (
        "from django.conf import settings as s; print(" + ", ".join(f"s.{n}" for n in names) + ")"
    )
    result = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "shell", "--verbosity", "0", "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


SECURITY = (
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
)  # fmt: skip


def test_the_production_profile_can_be_tried_over_plain_http_by_one_documented_setting():
    assert _settings_under(PRODUCTION_ENV, *SECURITY) == ["True", "True", "True", "31536000"]
    plain = {**PRODUCTION_ENV, "SALESFLOW_PLAIN_HTTP": "1"}
    assert _settings_under(plain, *SECURITY) == ["False", "False", "False", "0"]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "`SALESFLOW_PLAIN_HTTP`" in readme and "seed-demo --force" in readme


@pytest.mark.django_db
def test_postgresql_sessions_run_without_jit_unless_the_url_asks_for_it():
    """The reports' and pay's statements pay ~70 ms of JIT compiling each over a large
    history for nothing: the sessions run with it off; DATABASE_URL's options win."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
    code = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['OPTIONS'].get('options'))"
    )
    for url, expected in (
        ("postgres://postgres@127.0.0.1:5432/x", "-c jit=off"),
        ("postgres://postgres@127.0.0.1:5432/x?options=-c%20jit%3Don", "-c jit=on"),
    ):
        env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "salesflow.settings"}
        env.pop("SALESFLOW_ENV", None)
        shown = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert shown == expected
