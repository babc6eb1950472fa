"""The interface in the visitor's language: a switch on every page -- signed in or not --
through Django's set_language, and Russian pages without English left in them."""

import json
import re

import pytest
from django.test import Client

from .conftest import open_task
from .test_http import signed_in

pytestmark = pytest.mark.django_db


def quoted(label: str) -> str:
    """A choice's label as viewflow's select carries it: JSON in an HTML attribute."""
    return json.dumps({"label": label})[1:-1].replace('"', "&quot;")


def switch_to(client: Client, language: str, next_url: str) -> str:
    response = client.post("/i18n/setlang/", {"language": language, "next": next_url})
    assert response.status_code == 302 and response["Location"] == next_url
    return client.get(next_url).content.decode()


@pytest.mark.parametrize("url", ["/accounts/login/", "/leads/form/"])
def test_an_anonymous_visitor_switches_the_language_on_the_page_they_are_on(url):
    visitor = Client()
    page = visitor.get(url).content.decode()
    assert 'action="/i18n/setlang/"' in page and 'value="ru"' in page and "Русский" in page

    russian = switch_to(visitor, "ru", url)

    assert '<html lang="ru"' in russian
    assert 'value="en"' in russian and "English" in russian  # and back
    english = switch_to(visitor, "en", url)
    assert '<html lang="en"' in english


def test_a_signed_in_person_finds_the_switch_on_every_page(staff, new_lead):
    hunter = staff["hunter"][0]
    browser = signed_in(hunter)
    page = browser.get("/work/pools/hunter/").content.decode()
    assert 'id="language-ru"' in page
    russian = switch_to(browser, "ru", "/work/pools/hunter/")
    assert "Общая очередь" in russian or "Пул" in russian or "Менеджер активных продаж" in russian
    assert 'id="language-en"' in russian


def test_russian_lists_count_and_filter_in_russian(staff, new_lead):
    open_task(new_lead())
    browser = signed_in(staff["team_lead"][0])
    page = switch_to(browser, "ru", "/work/console/")
    summary = re.search(r'vf-list__pagination-summary">\s*(.*?)\s*</span>', page, re.S)
    assert summary and summary.group(1) == "1–1 из 1"
    assert "Выбрать все" in page and ">Select all<" not in page
    # a yes/no filter's empty choice (rendered by viewflow's select from a JSON attribute)
    assert quoted("Все") in page and quoted("Неизвестно") not in page
    empty = switch_to(browser, "ru", "/work/pools/expeditor/")
    assert "Здесь пока ничего нет." in empty and "0-0" not in empty


def test_the_scripts_strings_come_in_russian(staff):
    browser = signed_in(staff["hunter"][0])
    switch_to(browser, "ru", "/work/pools/hunter/")
    catalog = browser.get("/jsi18n/").content.decode()
    entry = re.search(r'"%\(sel\)s of %\(cnt\)s selected": \[?\s*"([^"]*)"', catalog)
    assert entry and json.loads(f'"{entry.group(1)}"').endswith("из %(cnt)s")


def test_the_conveyor_chart_keeps_the_stages_names_and_says_yes_and_no_in_russian(staff):
    browser = signed_in(staff["team_lead"][0])
    english = browser.get("/conveyor/").content.decode()
    assert "Prepare order" in english and ">yes</text>" in english
    russian = switch_to(browser, "ru", "/conveyor/")
    assert "Подготовка заказа" in russian and "Подготовка Заказа" not in russian
    assert ">да</text>" in russian and ">yes</text>" not in russian
    # the chart's ends say what they are
    assert english.count('class="event-label"') >= 2 and ">start</text>" in english
    assert ">начало</text>" in russian and ">конец</text>" in russian


def test_the_conveyors_page_shows_its_chart_in_the_menu_with_who_works_each_stage(staff):
    browser = signed_in(staff["hunter"][0])
    page = browser.get("/conveyor/").content.decode()
    assert "<svg" in page and 'id="stage-roles"' in page and "vf-page__menu" in page
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert rows[0][:2] == ("Qualify", "Active-sales manager")
    assert ("Documents", "Document clerk") in [row[:2] for row in rows]
    assert browser.get("/conveyor/chart/")["Content-Type"].startswith("image/svg+xml")
