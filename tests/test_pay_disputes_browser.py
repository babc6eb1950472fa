"""A pay dispute in a real browser, in English and in Russian: a hunter disputes the
month's total on My earnings, a team lead takes the decision from the team leads' pool and
accepts it with an adjustment, the hunter reads the answer -- each page checked as the walk
checks them (no overflow, no console error, no English left on a Russian page).

Needs Debian's chromium, like tests/test_browser.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from salesflow.pay.models import PayDispute
from salesflow.pay.selectors import current_month, statement

from .test_browser import browser  # noqa: F401  (the module's Chromium fixture)
from .test_browser_walk import Walk, _name_people

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = {
    "en": {
        "reason": "The overtime of the last week is missing.",
        "answer": "Right: the overtime is added.",
        "waiting": "Waiting for a decision",
        "accepted": "Accepted",
        "sent": "Your dispute is with the team leads",
        "amount": "1,500.50",
    },
    "ru": {
        "reason": "Не учтена переработка последней недели.",
        "answer": "Верно: переработка добавлена.",
        "waiting": "Ждёт решения",
        "accepted": "Принят",
        "sent": "Спор передан руководителям групп",
        "amount": "1\xa0500,50",  # a no-break space groups the thousands
    },
}


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_dispute_is_made_decided_and_answered_in_the_browser(
    browser,  # noqa: F811
    live_server,
    staff,
    language,
):
    words = WORDS[language]
    _name_people(staff)
    walk = Walk(browser, live_server, language)
    walk.allow_data()
    hunter, lead = staff["hunter"][0], staff["team_lead"][0]
    month = current_month()
    before = statement(month=month, user_ids=[hunter.pk]).total

    # --- the hunter disputes the month's total ----------------------------------------
    page = walk.sign_in(hunter.username)
    page.goto(f"{walk.base}/pay/")
    walk.check(page, "pay-my-earnings")
    page.click("#dispute-total summary")
    page.fill("#dispute-total textarea[name=reason]", words["reason"])
    page.click("#dispute-total button[type=submit]")
    page.wait_for_selector("#total-disputed")
    text = walk.check(page, "pay-disputed")
    assert words["sent"] in text
    dispute = PayDispute.objects.get(user=hunter)
    row = page.locator(f"#dispute-{dispute.pk}").inner_text()
    assert words["reason"] in row and words["waiting"] in row
    page.context.close()

    # --- a team lead takes it from the pool and accepts it --------------------------------
    page = walk.sign_in(lead.username)
    page.goto(f"{walk.base}/work/pools/team_lead/")
    walk.check(page, "pay-dispute-pool")
    page.click("#claim-next")
    page.wait_for_url("**/execute/")
    text = walk.check(page, "pay-dispute-decision")
    assert words["reason"] in page.locator("#dispute-reason").inner_text()
    assert page.locator("#dispute-person").inner_text().strip() == "Anna Orlova"
    page.check("input[name=stage-decision][value=accept]")
    page.fill("input[name=stage-amount]", "1500.50")
    page.fill("textarea[name=stage-answer]", words["answer"])
    page.click("#complete")
    page.wait_for_url(lambda url: "/execute/" not in url)
    walk.check(page, "pay-dispute-decided")
    page.context.close()
    dispute.refresh_from_db()
    assert dispute.status == PayDispute.Status.ACCEPTED and dispute.decided_by == lead

    # --- the hunter reads the answer, and the adjustment is on the statement --------------
    page = walk.sign_in(hunter.username)
    page.goto(f"{walk.base}/pay/")
    walk.check(page, "pay-answered")
    row = page.locator(f"#dispute-{dispute.pk}").inner_text()
    assert words["accepted"] in row and words["answer"] in row and words["amount"] in row
    assert "Elena Smirnova" in row
    page.context.close()
    assert statement(month=month, user_ids=[hunter.pk]).total == before + Decimal("1500.50")
