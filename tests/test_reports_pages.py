"""The daily report's pages: who may see them, what they show, the downloads."""

from __future__ import annotations

import json
import re
from io import BytesIO

import pytest
import time_machine
from django.test import Client
from openpyxl import load_workbook

from salesflow.reports.services import daily_report_build

from . import report_scenario as scenario
from .factories import UserFactory
from .report_scenario import DAY, at

pytestmark = pytest.mark.django_db
PAGE = "/reports/daily/"
EXPORT = "/reports/daily/export/"
ROLES = ("hunter", "account_manager", "document_clerk", "expeditor")


@pytest.fixture
def reported(staff):
    """DAY and the day before stored; the clock at 08:00 the morning after."""
    with time_machine.travel(at(-3, 9), tick=False) as clock:
        scenario.play_until_end_of_day(staff, clock)
        clock.move_to(at(1, 6))
        daily_report_build(day=DAY - (at(1, 0) - at(0, 0)))
        daily_report_build(day=DAY)
        clock.move_to(at(1, 8))
        yield staff


def browser(who: str, staff) -> Client:
    client = Client()
    if who == "admin":
        client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    elif who != "anonymous":
        client.force_login(staff[who][0])
    return client


@pytest.mark.parametrize("url", [PAGE, f"{EXPORT}?day=2026-03-02&format=csv"])
@pytest.mark.parametrize("who", ["anonymous", *ROLES, "team_lead", "admin"])
def test_only_team_leads_and_admins_read_the_report(reported, who, url):
    response = browser(who, reported).get(url)
    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif who in ROLES:
        assert response.status_code == 403
        assert b"Open at the end of the day" not in response.content
    else:
        assert response.status_code == 200
        assert "Open at the end of the day" in response.content.decode()


@pytest.mark.parametrize("who,shown", [("hunter", False), ("team_lead", True), ("admin", True)])
def test_the_menu_shows_reports_only_to_those_who_may_read_them(reported, who, shown):
    page = browser(who, reported).get("/clients/").content.decode()
    assert ('href="/reports/' in page) is shown


def test_the_page_compares_the_day_with_the_day_before_and_the_week_before(reported):
    page = browser("team_lead", reported).get(PAGE).content.decode()  # the latest day
    key_figures = page[page.index('id="key-figures"') : page.index('id="charts"')]
    cells = re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", key_figures)
    row = cells.index("Open at the end of the day")
    assert cells[row : row + 4] == ["Open at the end of the day", "5", "6", "—"]
    row = cells.index("Orders delivered")
    assert cells[row : row + 4] == ["Orders delivered", "1", "0", "—"]


def test_the_page_draws_its_charts_inline_without_scripts_or_a_cdn(reported):
    page = browser("team_lead", reported).get(PAGE).content.decode()
    for chart in ("chart-depth", "chart-ages", "chart-throughput"):
        section = page[page.index(f'id="{chart}"') :]
        assert section.index("<svg") < section.index("</section>")
    # the 30-day lines: a point per role for each of the two stored days
    depth = page[page.index('id="chart-depth"') :]
    assert depth[: depth.index("</section>")].count("<circle") == 2 * 7  # seven roles
    # and the share of clients that depend on one person, for each of them
    reliance = page[page.index('<section id="dependence"') :]
    assert reliance[: reliance.index("</section>")].count("<circle") == 2
    assert 'class="sf-table" id="table-roles"' in page  # the tables behind the charts
    external = re.findall(r'(?:src|href)="(https?:)?//', page)
    assert not external


def test_the_page_explains_bounces_received_and_caused(reported):
    page = browser("team_lead", reported).get(PAGE).content.decode()
    assert "they wrote the bounce note" in page
    assert "they last completed the stage the work went back to" in page


def test_the_page_explains_when_work_counts_as_stalled_and_what_outcomes_are(reported):
    page = browser("team_lead", reported).get(PAGE).content.decode()
    assert "such a mark ends when the work changes hands" in page
    assert "did not order counts as the deal lost" in page


def test_an_earlier_day_is_shown_on_request(reported):
    page = browser("team_lead", reported).get(PAGE, {"day": "2026-03-01"}).content.decode()
    assert "Sunday, 1 March 2026" in page
    assert 'name="day" value="2026-03-01"' in page


def test_the_day_picker_names_the_latest_day_the_page_shows(reported):
    page = browser("team_lead", reported).get(PAGE).content.decode()
    assert "Monday, 2 March 2026" in page
    assert 'name="day" value="2026-03-02"' in page  # was an empty date input
    russian = browser("team_lead", reported).get(PAGE, HTTP_ACCEPT_LANGUAGE="ru")
    assert 'name="day" value="2026-03-02"' in russian.content.decode()  # ISO in Russian too


@pytest.mark.parametrize(
    "query,status,message",
    [
        ({"day": "2026-02-01"}, 404, "There is no report for 2026-02-01. Reports exist from "
         "2026-03-01 to 2026-03-02."),
        ({"day": "yesterday"}, 400, "Enter a valid date."),
    ],
)  # fmt: skip
def test_a_day_without_a_report_or_a_bad_day_says_so(reported, query, status, message):
    response = browser("team_lead", reported).get(PAGE, query)
    assert response.status_code == status
    assert message in response.content.decode()


def test_before_the_first_report_the_page_says_when_it_comes(db):
    from django.contrib.auth.models import Group

    user = UserFactory(username="lead")
    user.groups.add(Group.objects.get(name="team_lead"))
    response = Client()
    response.force_login(user)
    page = response.get(PAGE)
    assert page.status_code == 404
    assert "There is no daily report yet" in page.content.decode()


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "json"])
def test_the_day_downloads_as_csv_xlsx_and_json(reported, file_format):
    response = browser("team_lead", reported).get(
        EXPORT, {"day": "2026-03-02", "format": file_format}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="salesflow-report-2026-03-02.{file_format}"'
    )
    if file_format == "csv":
        assert response.content.decode().startswith("Key figures\r\n")
    elif file_format == "xlsx":
        book = load_workbook(BytesIO(response.content))
        assert book["Key figures"]["B2"].value == "2026-03-02"
    else:
        assert json.loads(response.content)["orders_delivered"] == 1


@pytest.mark.parametrize(
    "query,status",
    [({"day": "2026-03-02", "format": "pdf"}, 400), ({"day": "2026-01-01", "format": "csv"}, 404)],
)
def test_a_bad_download_is_refused(reported, query, status):
    response = browser("team_lead", reported).get(EXPORT, query)
    assert response.status_code == status
    assert "Content-Disposition" not in response


def test_the_page_speaks_russian(reported):
    page = browser("team_lead", reported).get(PAGE, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Ежедневный отчёт по очередям" in page
    assert "Возвраты полученные" in page and "Журнал вклада" in page
    assert "Менеджер активных продаж" in page  # the role's title from its file
    assert "Понедельник, 2 марта 2026" in page
    # numbers are written with a decimal comma in Russian -- but never an SVG coordinate
    svg = page[page.index("<svg") : page.rindex("</svg>")]
    assert re.search(r'(?:x|y|width|height)="\d+\.\d"', svg)
    assert not re.search(r' (?:x|y|cx|cy|width|height)="[^"]*,', svg)


@pytest.mark.parametrize("url", ["/admin/reports/snapshot/", "/admin/reports/reportrecipient/add/"])
def test_an_admin_keeps_the_recipients_and_reads_the_stored_days(reported, url):
    assert browser("admin", reported).get(url).status_code == 200


def test_a_missing_day_breaks_the_line_and_the_axis_counts_in_whole_numbers():
    from salesflow.reports.charts import line_chart

    chart = line_chart("depth", ["1", "2", "3", "4"], [("hunters", [3, 7, None, 4])])
    (line,) = chart.lines
    assert len(line.segments) == 2 and len(line.dots) == 3  # days 1-2, then day 4
    assert [tick.label for tick in chart.y_ticks] == ["0", "2", "4", "6", "8", "10"]
    assert line_chart("depth", ["1"], [("hunters", [None])]).empty


def test_the_people_table_and_the_ledger_name_people_and_tell_namesakes_apart(reported):
    for person in reported["hunter"]:
        person.first_name, person.last_name = "Anna", "Petrova"
        person.save(update_fields=["first_name", "last_name"])
    page = browser("team_lead", reported).get(PAGE).content.decode()
    people = page[page.index('<th scope="row">') :]
    second = reported["hunter"][1].username  # the hunter who worked that day
    assert f'<th scope="row">Anna Petrova ({second})</th><td>0</td>' in people  # people
    assert f'<th scope="row">Anna Petrova ({second})</th><td>Qualify</td>' in people  # ledger
    assert re.search(r">\s*Anna Petrova\s*<", page) is None  # never the bare shared name


def test_the_page_shows_amounts_with_separators_and_rates_as_percentages(reported):
    page = browser("team_lead", reported).get(PAGE).content.decode()
    quality = page[page.index('id="table-handoff-quality"') :]
    quality = quality[: quality.index("</table>")]
    rates = re.findall(r"<td>([^<]*%)</td>", quality)
    assert rates and all(re.fullmatch(r"\d+\.\d %", rate) for rate in rates)
    figures = page[page.index('id="key-figures"') : page.index('id="charts"')]
    amount = re.search(r"Amount delivered</th>\s*<td>([^<]*)</td>", figures)
    assert amount and re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d", amount.group(1))
    download = browser("team_lead", reported).get(f"{EXPORT}?day={DAY.isoformat()}&format=csv")
    assert "%" not in download.content.decode()  # the downloads keep plain numbers


def test_chart_axes_make_room_for_millions_and_slant_long_stage_names():
    """Seen on the demo's pages: the revenue chart's "1600000" lost its first digit to
    the edge, the last month's label was cut at the right, and the stages' names under
    the throughput bars ran into each other (in Russian above all)."""
    from salesflow.reports import charts

    revenue = charts.line_chart("r", ["10.2026", "11.2026", "12.2026"], [("n", [5, 1_600_000, 9])])
    assert revenue.plot_left >= 12 + len("2000000") * charts.CHAR  # the top tick fits
    assert revenue.x_ticks[-1].anchor == "end"

    short = charts.bar_chart("s", ["a", "b"], [("n", [1, 2])])
    assert short.height == charts.HEIGHT and not any(t.rotate for t in short.x_ticks)
    stages = [
        "Квалификация", "Подготовка заказа", "Одобрение скидки", "Документы", "Доставка",
        "Сопровождение", "Следующий шаг", "Побочная задача", "Исправить данные клиента",
    ]  # fmt: skip
    slanted = charts.bar_chart("t", stages, [("n", [1] * len(stages))])
    assert all(t.rotate and t.anchor == "end" for t in slanted.x_ticks)
    assert slanted.height > charts.HEIGHT
    labels = [t.label for t in slanted.x_ticks]
    assert labels[:6] == stages[:6] and labels[-1].endswith("…")
