"""Pay over a hand-built month (``pay_scenario``): every figure of the statements, the
shares of each deal, closing the month and what is refused after."""

from datetime import date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from viewflow.workflow.models import Task

from salesflow.audit.models import AuditEvent
from salesflow.conveyor.services import stage_complete
from salesflow.pay import plans
from salesflow.pay.credit import ADJUSTMENT, ADVANCE, BASE, CLAWBACK, CREDIT, REFERRAL, stage_shares
from salesflow.pay.disputes import pay_dispute_open
from salesflow.pay.exceptions import AdjustmentInvalid, PeriodRefused
from salesflow.pay.models import ClosedLine, PayAdjustment, PayPeriod
from salesflow.pay.selectors import month_bounds, statement
from salesflow.pay.services import pay_adjust, pay_period_close
from salesflow.pay.trail import deal_trails
from salesflow.queues import claims

from . import pay_scenario as scenario

pytestmark = pytest.mark.django_db
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
UTC = scenario.UTC


@pytest.fixture
def clock():
    with time_machine.travel(scenario.on(1, 9), tick=False) as traveller:
        yield traveller


@pytest.fixture
def played(staff, clock, pay_plans):
    deals = scenario.play(staff, clock)
    clock.move_to(scenario.on(31, 18))
    return deals


def by_name(lines, kinds=None):
    names = dict(get_user_model().objects.values_list("pk", "username"))
    result: dict[str, Decimal] = {}
    for line in lines:
        if kinds is None or line.kind in kinds:
            result[names[line.user_id]] = result.get(names[line.user_id], Decimal(0)) + line.pay
    return result


def test_every_persons_march_matches_the_hand_built_month(played):
    march = statement(month=MARCH)
    assert march.so_far and march.closed is None
    earned = by_name(march.lines, kinds={CREDIT, ADVANCE, CLAWBACK, REFERRAL})
    assert earned == scenario.EXPECTED
    assert march.revenue == scenario.REVENUE
    assert march.credited == scenario.CREDITED
    # the base of each role once, from the plan in force on the 1st
    bases = by_name(march.lines, kinds={BASE})
    assert bases["hunter1"] == Decimal("60000.00") and bases["team_lead1"] == Decimal("120000.00")
    # totals are the sums of the lines, to the kopeck
    assert sum(march.totals.values()) == march.total == sum(line.pay for line in march.lines)


def test_each_rule_shows_on_its_own_lines(played):
    lines = statement(month=MARCH).lines
    deals = {key: lead.process_id for key, lead in played.items()}
    names = dict(get_user_model().objects.values_list("pk", "username"))

    def of(deal, kind):
        return sorted(
            (names[line.user_id], line.node, line.share, line.pay, line.plan)
            for line in lines
            if line.process_id == deals[deal] and line.kind == kind
        )

    assert (
        "account_manager1",
        "conveyor.prepare_order",
        Decimal("640.00"),
        Decimal("51.20"),
        "standard",
    ) in of("B", CREDIT)
    assert (
        "account_manager2",
        "conveyor.prepare_order",
        Decimal("160.00"),
        Decimal("12.80"),
        "standard",
    ) in of("B", CREDIT)
    assert [row[0] for row in of("M", CREDIT) if row[1] == "conveyor.qualify"] == ["hunter1"]
    assert of("L", ADVANCE) == [
        ("hunter2", "conveyor.qualify", Decimal("300.00"), Decimal("15.00"), "standard")
    ]
    assert of("L", CLAWBACK) == [
        ("hunter2", "conveyor.qualify", Decimal("300.00"), Decimal("-15.00"), "standard")
    ]
    assert of("F", REFERRAL) == [("expeditor2", "", Decimal("3000.00"), Decimal("15.00"), "march")]
    assert (
        "account_manager1",
        "conveyor.prepare_order",
        Decimal("1200.00"),
        Decimal("120.00"),
        "march",
    ) in of("F", CREDIT)
    assert "conveyor.qualify" not in {row[1] for row in of("R", CREDIT)}
    assert not of("R", ADVANCE)
    # the client is shown by the company's name only
    assert {line.client for line in lines if line.process_id == deals["P"]} == {"P LLC"}


def test_for_every_deal_the_stage_shares_sum_to_its_amount(played):
    start, end = month_bounds(MARCH)
    trails = deal_trails(start=start, end=end)
    assert {t.process_id for t in trails} == {lead.process_id for lead in played.values()}
    for trail in trails:
        plan = plans.plan_for(trail.completions[-1].finished.date())
        assert sum(s.amount for s in stage_shares(trail, plan)) == trail.amount


def test_a_person_sees_only_their_lines(played, staff):
    hunter1 = staff["hunter"][0]
    mine = statement(month=MARCH, user_ids=[hunter1.pk])
    assert {line.user_id for line in mine.lines} == {hunter1.pk}
    assert mine.total == Decimal("60120.00")


def test_closing_freezes_the_month_and_refuses_what_would_change_it(played, clock, staff):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    with pytest.raises(PeriodRefused, match="not over yet"):
        pay_period_close(month=MARCH, user=admin)
    assert not PayPeriod.objects.exists()

    clock.move_to(datetime(2026, 4, 2, 9, tzinfo=UTC))
    before = statement(month=MARCH)
    period = pay_period_close(month=MARCH, user=admin)
    assert period.total == before.total and period.revenue == scenario.REVENUE
    event = AuditEvent.objects.get(action=AuditEvent.Action.PAY_CLOSE)
    assert event.actor_id == admin.pk and event.data["month"] == "2026-03"

    with pytest.raises(PeriodRefused, match="closed already"):
        pay_period_close(month=MARCH, user=admin)
    with pytest.raises(PeriodRefused, match="not over yet"):
        pay_period_close(month=APRIL, user=admin)
    with pytest.raises(TypeError):
        ClosedLine.objects.filter(period=period).update(pay=0)
    line = ClosedLine.objects.filter(period=period).first()
    line.pay = Decimal("1000000")
    with pytest.raises(TypeError):
        line.save()

    # disputes of the closed March: one accepted -- its correction an adjustment in April,
    # with the answer as its reason -- and one rejected, which moves no money
    account1, hunter1 = staff["account_manager"][0], staff["hunter"][0]
    lead = staff["team_lead"][0]
    accepted = pay_dispute_open(
        person=account1, month=MARCH, deal=None, stage="", reason="A delivery is missing."
    )
    rejected = pay_dispute_open(
        person=hunter1, month=MARCH, deal=None, stage="", reason="My share looks small."
    )
    for dispute, data in (
        (accepted, {"decision": "accept", "amount": "12.50", "answer": "a dispute accepted"}),
        (rejected, {"decision": "reject", "answer": "Your share is the plan's."}),
    ):
        task = Task.objects.get(process_id=dispute.flow_process_id, flow_task_type="HUMAN")
        stage_complete(task=claims.task_claim(task=task, user=lead), user=lead, data=data)
    [adjustment] = PayAdjustment.objects.all()
    assert (adjustment.user, adjustment.amount) == (account1, Decimal("12.50"))
    assert (adjustment.month, adjustment.corrects) == (APRIL, MARCH)
    after = statement(month=MARCH)
    assert after.closed is not None and not after.so_far
    assert after.total == before.total
    assert [(line.pay, line.note) for line in after.lines] == [
        (line.pay, line.note) for line in before.lines
    ]
    april = statement(month=APRIL, user_ids=[account1.pk])
    assert [
        (line.kind, line.pay, line.note) for line in april.lines if line.kind == ADJUSTMENT
    ] == [(ADJUSTMENT, Decimal("12.50"), f"Pay dispute #{accepted.pk}: a dispute accepted")]
    hunters_april = statement(month=APRIL, user_ids=[hunter1.pk]).lines
    assert not [line for line in hunters_april if line.kind == ADJUSTMENT]


@pytest.mark.parametrize(
    ("amount", "reason"), [("0", "why"), ("abc", "why"), ("1.005", "why"), ("5", "  ")]
)
def test_an_adjustment_without_an_amount_or_a_reason_is_refused(staff, amount, reason):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    with pytest.raises(AdjustmentInvalid):
        pay_adjust(
            person=staff["hunter"][0], amount=amount, reason=reason, author=admin, month=MARCH
        )
    assert not PayAdjustment.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PAY_ADJUST).exists()


def test_only_an_admin_closes_or_adjusts(staff):
    from salesflow.exceptions import NotPermitted

    for person in (staff["team_lead"][0], staff["hunter"][0]):
        with pytest.raises(NotPermitted):
            pay_period_close(month=date(2020, 1, 1), user=person)
        with pytest.raises(NotPermitted):
            pay_adjust(person=person, amount="5", reason="x", author=person, month=MARCH)
    assert not PayPeriod.objects.exists() and not PayAdjustment.objects.exists()


def test_the_cli_prints_the_month_as_json_csv_and_xlsx(played, staff, tmp_path):
    import json
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("pay", "statement", "--period", "2026-03", stdout=out)
    data = json.loads(out.getvalue())
    assert data["status"] == "so_far"
    assert (data["revenue"], data["credited"]) == ("7500.00", "6750.00")
    assert sum(Decimal(p["total"]) for p in data["people"]) == Decimal(data["total"])
    assert sum(Decimal(line["pay"]) for line in data["lines"]) == Decimal(data["total"])

    out = StringIO()
    call_command("pay", "statement", "--period", "2026-03", "--user", "hunter1", stdout=out)
    mine = json.loads(out.getvalue())
    assert {line["user"] for line in mine["lines"]} == {staff["hunter"][0].pk}
    assert mine["total"] == "60120.00"

    target = tmp_path / "march.csv"
    call_command(
        "pay", "statement", "--period", "2026-03", "--format", "csv", "--output", str(target)
    )
    rows = target.read_text().splitlines()
    assert rows[0] == "People" and "Lines" in rows

    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="needs --output"):
        call_command("pay", "statement", "--period", "2026-03", "--format", "xlsx")
    with pytest.raises(CommandError, match="nobody is called"):
        call_command("pay", "statement", "--period", "2026-03", "--user", "ghost")
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("pay", "statement", "--period", "March")
    xlsx = tmp_path / "march.xlsx"
    call_command(
        "pay", "statement", "--period", "2026-03", "--format", "xlsx", "--output", str(xlsx)
    )
    from openpyxl import load_workbook

    sheets = load_workbook(xlsx).sheetnames
    assert sheets == ["People", "Lines"]


def test_the_cli_closes_a_month_once(played, clock):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    with pytest.raises(CommandError, match="not over yet"):
        call_command("pay", "close", "--period", "2026-03")
    clock.move_to(datetime(2026, 4, 1, 0, 30, tzinfo=UTC))
    out = StringIO()
    call_command("pay", "close", "--period", "2026-03", stdout=out)
    assert out.getvalue().startswith("Closed 2026-03:")
    with pytest.raises(CommandError, match="closed already"):
        call_command("pay", "close", "--period", "2026-03")
    assert PayPeriod.objects.count() == 1


def test_a_plan_may_split_a_reassigned_stage_evenly_between_its_holders(played, settings):
    """M's qualification was held by hunter2, then moved to hunter1 who completed it."""
    (settings.SALESFLOW_PAY_PLANS_DIR / "old.toml").write_text(
        scenario.OLD.replace('rule = "completer"', 'rule = "even"')
    )
    plans.get_plans.cache_clear()
    lines = statement(month=MARCH).lines
    names = dict(get_user_model().objects.values_list("pk", "username"))
    qualify = sorted(
        (names[line.user_id], line.share)
        for line in lines
        if line.process_id == played["M"].process_id
        and line.kind == CREDIT
        and line.node == "conveyor.qualify"
    )
    assert qualify == [("hunter1", Decimal("150.00")), ("hunter2", Decimal("150.00"))]


def test_the_team_statement_page_shows_each_persons_total_and_the_bounce(played):
    from django.test import Client

    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "x")
    client = Client()
    client.force_login(admin)
    text = client.get("/pay/team/", {"period": "2026-03"}).content.decode()
    assert "So far: the month is not over" in text
    assert "part of the share moved by a bounce" in text
    assert "P LLC" in text
    # hunter1: base 60,000.00 and 120.00 earned in March
    assert "60,120.00" in text  # the reader's separators
    ru = client.get("/pay/team/", {"period": "2026-03"}, HTTP_ACCEPT_LANGUAGE="ru")
    assert "часть доли перешла из-за возврата" in ru.content.decode()
    assert "60\xa0120,00" in ru.content.decode()


def test_the_sent_back_index_covers_exactly_what_the_trail_reads_as_sent_back():
    """Pay asks "was this task sent back?" for every stage task of a month's deals; the
    partial index answering it must cover the same actions, or PostgreSQL scans the whole
    audit trail for it again."""
    from salesflow.pay.trail import BACKWARD_ACTIONS

    index = next(i for i in AuditEvent._meta.indexes if i.name == "audit_task_sent_back")
    ((lookup, values),) = index.condition.children
    assert lookup == "action__in" and sorted(values) == sorted(BACKWARD_ACTIONS)
