"""A sales team's day, walked in a real browser in English and in Russian: every role's
pages read as a person reads them.

Each page is checked for what its cells, notes, names and messages say, for horizontal
overflow at 1,440 px, for errors in the browser's console and -- in Russian -- for words in
Latin script that are neither data (clients, people, what was typed) nor brand names.
Every page's screenshot is kept under ``var/screenshots/walk/<language>/`` (or
``$SALESFLOW_SCREENSHOTS``): an artifact of the run, not part of the repository.

Needs Debian's chromium, like tests/test_browser.py.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone
from viewflow.workflow.models import Task

from salesflow.clients.models import Client, Contact, Lead
from salesflow.handoff.models import HandoffNote
from salesflow.reports.services import daily_report_build

from .conftest import open_task
from .factories import ClientFactory
from .test_browser import CHROMIUM, browser  # noqa: F401  (the module's Chromium fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1440
LATIN = r"[A-Za-z][A-Za-z'-]+"  # a word in Latin script
SHOTS = Path(
    os.environ.get("SALESFLOW_SCREENSHOTS")
    or Path(__file__).resolve().parent.parent / "var" / "screenshots" / "walk"
)
# Latin words a Russian page may show that are not data: the product's and formats' names
BRANDS = {"salesflow", "e-mail", "email", "csv", "xlsx", "json", "api", "pdf", "id", "utc"}
PEOPLE = {
    "hunter1": ("Anna", "Orlova"),
    "hunter2": ("Boris", "Kim"),
    "account_manager1": ("Vera", "Sokolova"),
    "account_manager2": ("Dmitry", "Lebedev"),
    "document_clerk1": ("Irina", "Volkova"),
    "expeditor1": ("Pavel", "Morozov"),
    "team_lead1": ("Elena", "Smirnova"),
}
WORDS = {
    "en": {
        "request": "twenty pumps for the new plant",
        "company": "Baltic Foods",
        "note": {
            "client_needs": "twenty pumps for the new bottling line",
            "decision_maker": "Ivan Petrov, chief engineer",
            "budget_and_terms": "about two million roubles, thirty days",
            "next_step": "send a quote with delivery dates",
        },
        "spec": "pumps NM-100, 20 pieces",
        "done": "“Qualify” done.",
        "handed": "Handed over to you",
        "acknowledged": "Handoff note acknowledged.",
        "read_by": "read by Vera Sokolova",
        "pool": "Pool",
        "in_pool": "in the pool",
    },
    "ru": {
        "request": "двадцать насосов для нового завода",
        "company": "Балтийские продукты",
        "note": {
            "client_needs": "двадцать насосов для новой линии розлива",
            "decision_maker": "Иван Петров, главный инженер",
            "budget_and_terms": "около двух миллионов рублей, тридцать дней",
            "next_step": "отправить предложение со сроками поставки",
        },
        "spec": "насосы НМ-100, 20 штук",
        "done": "Этап «Квалификация» выполнен.",
        "handed": "Вам передали",
        "acknowledged": "Записка передачи подтверждена.",
        "read_by": "прочитал(а) Vera Sokolova",
        "pool": "Общая очередь",
        "in_pool": "в общей очереди",
    },
}


class Walk:
    """One language's walk: opens pages, checks each, keeps its screenshot."""

    def __init__(self, chromium: Any, live_server: Any, language: str) -> None:
        self.chromium, self.base, self.language = chromium, live_server.url, language
        self.shots = SHOTS / language
        self.shots.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.allowed = set(BRANDS)

    def allow(self, *texts: str) -> None:
        for text in texts:
            self.allowed.update(word.lower() for word in re.findall(LATIN, text))

    def allow_data(self) -> None:
        """Everything the database holds about clients and people is data."""
        for client in Client.objects.all():
            self.allow(client.name, client.legal_address or "", client.tax_number or "")
        for lead in Lead.objects.all():
            self.allow(lead.request)
        for contact in Contact.objects.all():
            self.allow(contact.name, str(getattr(contact, "email", "") or ""))
        for user in get_user_model().objects.all():
            self.allow(user.username, user.first_name, user.last_name, user.email)

    def context(self, *, anonymous_language: str | None = None) -> Any:
        locale = "ru-RU" if self.language == "ru" else "en-US"
        context = self.chromium.new_context(locale=locale, viewport={"width": WIDTH, "height": 900})
        context.set_default_timeout(15_000)
        return context

    def sign_in(self, username: str) -> Any:
        page = self.context().new_page()
        self.watch(page)
        page.goto(f"{self.base}/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", "pw")
        page.click("form [type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    def watch(self, page: Any) -> None:
        page.errors = []
        page.on(
            "console",
            lambda message: page.errors.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: page.errors.append(str(error)))

    def check(self, page: Any, name: str) -> str:
        """The page as read: no overflow, no console error, no English in Russian; its
        screenshot kept. Returns the page's visible text."""
        page.wait_for_load_state("networkidle")
        self.count += 1
        page.screenshot(path=str(self.shots / f"{self.count:02d}-{name}.png"), full_page=True)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= WIDTH, f"{name}: the page is {width} px wide in a {WIDTH} px window"
        errors = [e for e in page.errors if "favicon" not in e]
        assert not errors, f"{name}: console errors {errors}"
        page.errors.clear()
        text: str = page.evaluate(
            """() => { const copy = document.body.cloneNode(true);
                copy.querySelectorAll('script, style, .material-icons, [data-sf-lang-switch]')
                    .forEach(e => e.remove());
                copy.querySelectorAll('option, li').forEach(e => e.append(' '));
                return copy.innerText; }"""
        )
        html_lang = page.evaluate("document.documentElement.lang")
        assert html_lang == self.language, f"{name}: the page is in {html_lang!r}"
        if self.language == "ru":
            latin = sorted(
                {word for word in re.findall(LATIN, text) if word.lower() not in self.allowed}
            )
            assert not latin, f"{name}: English left on a Russian page: {latin}"
        return text


def _name_people(staff: dict[str, list[Any]]) -> None:
    for people in staff.values():
        for person in people:
            first, last = PEOPLE.get(person.username, ("", ""))
            if first:
                person.first_name, person.last_name = first, last
                person.save(update_fields=["first_name", "last_name"])


@pytest.mark.parametrize("language", ["en", "ru"])
def test_a_sales_teams_day_in_the_browser(browser, live_server, staff, new_lead, language):  # noqa: F811
    words = WORDS[language]
    _name_people(staff)
    walk = Walk(browser, live_server, language)
    lead = new_lead(client=ClientFactory(name=words["company"]), request=words["request"])
    for _ in range(2):
        new_lead(client=ClientFactory(name=f"{words['company']} {_ + 2}"), request=words["request"])
    walk.allow_data()
    walk.allow(*words["note"].values(), words["spec"])

    # --- a visitor: the sign-in page and the public form, and the language switch --------
    visitor = walk.context().new_page()
    walk.watch(visitor)
    visitor.goto(f"{walk.base}/accounts/login/")
    walk.check(visitor, "sign-in")
    other = "en" if language == "ru" else "ru"
    visitor.click(f"#language-{other}")
    visitor.wait_for_load_state("networkidle")
    assert visitor.evaluate("document.documentElement.lang") == other
    visitor.click(f"#language-{language}")
    visitor.wait_for_load_state("networkidle")
    visitor.goto(f"{walk.base}/leads/form/")
    walk.check(visitor, "public-form")
    visitor.context.close()

    # --- the hunter: the pool reads the request; the next task; the note; done ----------
    hunter = staff["hunter"][0]
    page = walk.sign_in(hunter.username)
    page.goto(f"{walk.base}/work/pools/hunter/")
    text = walk.check(page, "hunter-pool")
    headers = page.locator("table thead th").all_inner_texts()
    row = page.locator(f"tr:has-text('{words['company']}')").first
    cells = row.locator("td").all_inner_texts()
    request_column = [h.strip() for h in headers].index("Запрос" if language == "ru" else "Request")
    assert cells[request_column].strip() == words["request"]
    assert "WSGIRequest" not in text
    page.click("#claim-next")
    page.wait_for_url("**/execute/")
    walk.check(page, "hunter-stage")
    page.check("input[name=stage-outcome][value=qualified]")
    for name, value in words["note"].items():
        page.fill(f"textarea[name=handoff-{name}]", value)
    page.fill("input[name=handoff-next_step_date]", "2030-01-15")
    page.click("#complete")
    page.wait_for_url(lambda url: "/execute/" not in url)
    text = walk.check(page, "hunter-inbox-after")
    assert words["done"] in text
    page.context.close()

    done = Task.objects.get(process_id=lead.process_id, flow_task_type="HUMAN", status="DONE")
    assert done.owner == hunter
    prepare = open_task(lead)
    assert prepare.flow_task.name == "prepare_order" and prepare.owner is not None
    manager = prepare.owner

    # --- the account manager: the note names its author; acknowledging keeps the typing --
    page = walk.sign_in(manager.username)
    page.goto(f"{walk.base}/work/pools/account_manager/mine/")
    walk.check(page, "account-inbox")
    page.click(f"tr:has-text('{words['company']}') a")
    page.wait_for_url("**/execute/")
    text = walk.check(page, "account-stage")
    assert words["handed"] in text
    assert "Anna Orlova" in text and words["note"]["decision_maker"] in text
    page.fill("textarea[name=stage-specification]", words["spec"])
    page.click("#acknowledge")
    page.wait_for_selector("#incoming-notes .sf-note__ack")  # the page came back
    text = walk.check(page, "account-stage-acknowledged")
    assert page.input_value("textarea[name=stage-specification]") == words["spec"]
    read_by = words["read_by"].replace("Vera Sokolova", manager.get_full_name())
    assert read_by in text and words["acknowledged"] in text
    assert HandoffNote.objects.get(to_node="conveyor.prepare_order").acknowledged_by == manager
    page.context.close()

    # --- the clerk's and the expeditor's pools -----------------------------------------
    for role in ("document_clerk", "expeditor"):
        page = walk.sign_in(staff[role][0].username)
        page.goto(f"{walk.base}/work/pools/{role}/")
        walk.check(page, f"{role}-pool")
        page.context.close()

    # --- the team lead: the console names the holders; the offboard picker; the chart ---
    page = walk.sign_in(staff["team_lead"][0].username)
    page.goto(f"{walk.base}/work/console/")
    text = walk.check(page, "console")
    assert manager.get_full_name() in text and words["in_pool"] in text
    page.goto(f"{walk.base}/work/console/offboard/")
    walk.check(page, "offboard")
    options = page.locator("select[name=user] option").all_inner_texts()
    assert "Anna Orlova" in options and "Boris Kim" in options
    page.goto(f"{walk.base}/conveyor/")
    text = walk.check(page, "conveyor-chart")
    assert ("Менеджер активных продаж" if language == "ru" else "Active-sales manager") in text
    with time_machine.travel(timezone.now() + timedelta(days=1), tick=False):
        daily_report_build(day=timezone.localdate() - timedelta(days=1))  # today, once over
    page.goto(f"{walk.base}/reports/daily/")
    walk.check(page, "daily-report")
    page.context.close()
