"""The product in a real browser (headless Chromium driven by Playwright): a hunter takes the
next lead and hands it over with a note, the account manager finds it, and the team lead
moves a stalled task from the console.

Needs Debian's chromium (``.ci/run`` installs it); skipped elsewhere only outside CI.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.models import AuditEvent
from salesflow.queues import claims
from salesflow.queues.terms import StallReason

from .conftest import open_task
from .factories import UserFactory
from .test_queues import mark, terms

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
NOTE = {
    "client_needs": "twenty pumps for the new bottling line",
    "decision_maker": "Ivan Petrov, chief engineer",
    "budget_and_terms": "about two million roubles, thirty days",
    "next_step": "send a quote with delivery dates",
}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("SALESFLOW_REQUIRE_SERVICES"):
            pytest.fail(f"Chromium is not installed at {CHROMIUM}, and CI requires it")
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the test's own
    # ORM calls are plain synchronous ones between browser steps.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def sign_in(browser, live_server, username: str):
    page = browser.new_context(locale="en-US").new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "pw")
    page.click("form [type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page


def test_a_lead_is_handed_over_and_a_stalled_task_moved_in_the_browser(
    browser, live_server, new_lead
):
    hunter = UserFactory(username="hunter1", roles=["hunter"])
    manager = UserFactory(username="account1", roles=["account_manager"])
    lead_user = UserFactory(username="teamlead", roles=["team_lead"])
    colleague = UserFactory(username="hunter2", roles=["hunter"])
    lead = new_lead()
    stuck = open_task(new_lead())
    claims.task_claim(task=stuck, user=colleague)
    mark(stuck, stalled=timezone.now(), stalled_reason=StallReason.IDLE)

    # the hunter takes the next lead from the pool and qualifies it with a handoff note
    page = sign_in(browser, live_server, hunter.username)
    page.goto(f"{live_server.url}/work/pools/hunter/")
    page.click("#claim-next")
    page.wait_for_url("**/execute/")
    page.check("input[name=stage-outcome][value=qualified]")
    for name, value in NOTE.items():
        page.fill(f"textarea[name=handoff-{name}]", value)
    page.fill("input[name=handoff-next_step_date]", "2030-01-15")
    page.click("#stage-form [type=submit]")
    page.wait_for_url(lambda url: "/execute/" not in url)  # done: back to the inbox
    page.context.close()

    task = Task.objects.get(process_id=lead.process_id, flow_task_type="HUMAN", status="DONE")
    assert task.owner == hunter
    prepare = open_task(lead)
    assert prepare.flow_task.name == "prepare_order"

    # the account manager finds it (handed to them by the pool) with the note on top
    page = sign_in(browser, live_server, manager.username)
    page.goto(f"{live_server.url}/work/pools/account_manager/mine/")
    company = lead.client.name
    page.click(f"tr:has-text('{company}') a")
    page.wait_for_url("**/execute/")
    assert "Handed over to you" in page.content()
    assert "Ivan Petrov, chief engineer" in page.content()
    page.context.close()

    # the team lead moves the stalled task to another hunter from the console
    page = sign_in(browser, live_server, lead_user.username)
    page.goto(f"{live_server.url}/work/console/")
    row = page.locator(f"tr[data-row-id='{stuck.pk}']")
    row.locator("input[type=checkbox]").check()
    page.click(".vf-list__action-select .mdc-select__anchor")
    page.click(".vf-list__action-select li:has-text('Reassign')")
    page.click(".vf-list__action-button")
    page.wait_for_selector("#reassign-form")
    page.select_option("#reassign-form select[name=to]", str(hunter.pk))
    page.fill("#reassign-form textarea[name=reason]", "hunter2 is off sick today")
    page.click("#reassign-confirm")
    page.wait_for_url("**/work/console/")
    page.context.close()

    stuck.refresh_from_db()
    assert stuck.owner == hunter and stuck.status == STATUS.ASSIGNED
    move = AuditEvent.objects.get(action="reassign", task=stuck)
    assert (move.actor, move.from_user, move.to_user) == (lead_user, colleague, hunter)
    assert move.reason == "hunter2 is off sick today"
    assert terms(stuck).stalled is None  # idle stall over with new owner
