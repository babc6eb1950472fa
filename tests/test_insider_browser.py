"""The insider's protections in a real browser: a task's holder shows a contact on the stage
page without losing what they typed (one audit event, the task as its reason), gives a
task back with a reason, and a team lead clears a suspension from the console -- in
English and in Russian. With ``SALESFLOW_SCREENSHOTS=DIR`` each page is saved there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone

from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Lead
from salesflow.intake.services import LeadData, lead_receive
from salesflow.watch.models import LeakAlert

from .conftest import open_task
from .factories import ClientFactory, ContactFactory, UserFactory
from .test_browser import browser  # noqa: F401 - the fixture
from .test_clients import EMAIL, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("SALESFLOW_SCREENSHOTS")
TEXT = {
    "en": {"show": "Show (recorded)", "give": "Give it back", "reason": "Say why you give"},
    "ru": {"show": "Показать (фиксируется)", "give": "Вернуть", "reason": "Укажите, почему"},
}


def open_as(browser, live_server, username: str, language: str):  # noqa: F811
    page = browser.new_context(
        locale="ru-RU" if language == "ru" else "en-US", viewport={"width": 1440, "height": 900}
    ).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw")
    page.click("form [type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def shot(page, name: str, *, full_page: bool = True) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full_page)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_holder_shows_a_contact_on_request_and_gives_a_task_back_with_a_reason(
    browser,  # noqa: F811
    live_server,
    language,
):
    words = TEXT[language]
    hunter = UserFactory(username="hunter1", first_name="Anna", last_name="Orlova",
                         roles=["hunter"])  # fmt: skip
    client = ClientFactory(name="Volga Pumps", tax_number="7707083893")
    ContactFactory(client=client, name="Pavel Buyer", phone=PHONE, email=EMAIL)
    lead = lead_receive(
        data=LeadData(company="Volga", tax_number="7707083893", contact_name="Olga",
                      phone="+7 999 123 45 67", request="forty pumps"),
        source=Lead.Source.WEB_FORM,
    ).lead  # fmt: skip
    task = open_task(lead)
    base = f"{live_server.url}/conveyor/{task.process_id}/qualify/{task.pk}"

    page = open_as(browser, live_server, hunter.username, language)
    page.goto(f"{base}/assign/")
    shot(page, f"{language}-claim")
    page.click("#claim")
    page.wait_for_url("**/execute/")
    assert PHONE not in page.content() and EMAIL not in page.content()
    page.check("input[name=stage-outcome][value=qualified]")
    page.fill("textarea[name=handoff-client_needs]", "typed before showing the contact")
    shot(page, f"{language}-stage-masked")

    page.click(f"#client-contacts button:has-text('{words['show']}')")
    page.wait_for_selector(f"#client-contacts :text('{EMAIL}')")
    assert PHONE in page.content()
    # nothing typed was lost, and the reveal is one audit event with the task as its reason
    assert page.input_value("textarea[name=handoff-client_needs]") == (
        "typed before showing the contact"
    )
    reveal = AuditEvent.objects.get(action=AuditEvent.Action.REVEAL)
    assert (reveal.actor_id, reveal.task_id) == (hunter.pk, task.pk)
    shot(page, f"{language}-stage-shown")
    page.goto(f"{live_server.url}/clients/{client.pk}/")
    assert PHONE not in page.content()  # the card masks too, with its own recorded reveal
    shot(page, f"{language}-client-card")

    page.goto(f"{base}/unassign/")
    page.click("#unassign")
    page.wait_for_selector(".sf-refused")
    assert words["reason"] in page.content()
    shot(page, f"{language}-unassign-refused")
    page.fill("textarea[name=reason]", "the client is in another region")
    page.click("#unassign")
    page.wait_for_url("**/work/pools/hunter/mine/")
    assert open_task(lead).owner is None
    page.goto(f"{base}/execute/")
    shot(page, f"{language}-refused")
    page.goto(f"{live_server.url}/conveyor/")
    shot(page, f"{language}-conveyor", full_page=False)
    page.context.close()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_team_lead_clears_a_suspension_from_the_console(
    browser,  # noqa: F811
    live_server,
    language,
):
    hunter = UserFactory(username="hunter1", first_name="Anna", last_name="Orlova",
                         roles=["hunter"])  # fmt: skip
    boss = UserFactory(username="teamlead", first_name="Ivan", last_name="Petrov",
                       roles=["team_lead"])  # fmt: skip
    LeakAlert.objects.create(
        user=hunter, day=timezone.localdate(), kind="unassigns", count=6, limit=5
    )
    page = open_as(browser, live_server, boss.username, language)
    page.goto(f"{live_server.url}/work/console/")
    assert "Anna Orlova" in page.content()
    shot(page, f"{language}-console-warning")
    page.fill("#leak-watch input[name=reason]", "she moved to the north region")
    with page.expect_navigation():
        page.click("#leak-watch button[type=submit]")
    page.wait_for_load_state()
    assert LeakAlert.objects.get().cleared_by_id == boss.pk
    shot(page, f"{language}-console-cleared")
    page.context.close()
