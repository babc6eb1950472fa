"""The production profile: Django's deploy checklist, health, request ids, throttling."""

import json
import logging
import os
import subprocess
import sys

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
def test_five_wrong_passwords_lock_the_account_out_from_that_address(staff):
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
    # another address is not locked out
    elsewhere = Client(REMOTE_ADDR="10.0.0.8")
    ok = elsewhere.post("/accounts/login/", {"username": hunter.username, "password": "pw"})
    assert ok.status_code == 302
