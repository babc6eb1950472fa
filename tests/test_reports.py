"""The daily queue report: every figure against a hand-built day (tests/report_scenario.py),
re-runs and backfills, refusals, exports, the e-mail and the scheduled task."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from decimal import Decimal
from io import BytesIO, StringIO
from pathlib import Path

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from openpyxl import load_workbook

from bench.processes import wait_until
from salesflow.queues import claims
from salesflow.reports import services
from salesflow.reports.exceptions import NoRecipients, ReportDayInvalid
from salesflow.reports.exports import report_json
from salesflow.reports.figures import day_figures
from salesflow.reports.layout import outcome_label
from salesflow.reports.models import (
    Contribution,
    PersonFigures,
    ReportRecipient,
    RoleFigures,
    Snapshot,
    StageFigures,
    TransitionFigures,
)
from salesflow.reports.selectors import daily_report
from salesflow.reports.tasks import daily_report as daily_report_task
from salesflow.reports.tasks import daily_report_catch_up as catch_up_task

from . import procs
from . import report_scenario as scenario
from .report_scenario import DAY, EXPECTED_STAGES, H, at

pytestmark = pytest.mark.django_db
ONE_DAY = timedelta(days=1)
FIGURES = [field for field in EXPECTED_STAGES["conveyor.qualify"]]
ROW_MODELS = (RoleFigures, StageFigures, PersonFigures, TransitionFigures, Contribution)


@pytest.fixture
def clock():
    with time_machine.travel(at(-3, 9), tick=False) as traveller:
        yield traveller


@pytest.fixture
def played(staff, clock):
    """DAY played through; the clock stands at 00:05 the morning after."""
    leads = scenario.play_until_end_of_day(staff, clock)
    clock.move_to(at(1, 0, 5))
    return leads


def figures(row, names=FIGURES) -> dict:
    return {name: getattr(row, name) for name in names}


def without_build_times(report):
    return dataclasses.replace(report, generated=None, emailed=None)


# --- every figure --------------------------------------------------------------------------


def test_each_stage_figure_matches_the_hand_built_day(played):
    report = day_figures(day=DAY)
    assert [row.key for row in report.stages] == list(EXPECTED_STAGES)  # the conveyor's order
    for row in report.stages:
        assert figures(row) == EXPECTED_STAGES[row.key], row.key


def test_role_figures_sum_their_stages_and_take_medians_over_all_their_work(played):
    roles = {row.key: row for row in day_figures(day=DAY).roles}
    assert list(roles) == [
        "hunter",
        "account_manager",
        "team_lead",
        "document_clerk",
        "expeditor",
        "assistant",
        "database_operator",
    ]
    assert figures(roles["hunter"]) == EXPECTED_STAGES["conveyor.qualify"]
    # prepare order (A, 9 h, with account1) and follow up (E, 7 h, in the pool)
    assert figures(roles["account_manager"]) == dict(
        open=2, unassigned=1, in_work=1, stalled=0, overdue=0, oldest_age_seconds=9 * H,
        median_age_seconds=8 * H, age_buckets=[0, 2, 0, 0, 0], created=2, completed=2,
        finished_late=0, outcomes={"order": 1, "lost": 1}, handoffs=1, bounces_received=0,
        bounces_caused=1,
    )  # fmt: skip
    assert figures(roles["document_clerk"]) == EXPECTED_STAGES["conveyor.documents"]
    assert figures(roles["expeditor"]) == EXPECTED_STAGES["conveyor.delivery"]
    assert figures(roles["team_lead"]) == EXPECTED_STAGES["conveyor.approve_discount"]
    assert roles["hunter"].sla_breaches == 2  # G overdue, B finished late
    assert roles["document_clerk"].sla_breaches == 1  # H overdue


def test_people_are_credited_with_what_they_held_and_did_that_day(played):
    people = {row.name: row for row in day_figures(day=DAY).people}
    # hunter1 held C most of the day and gave it back: nothing of theirs is in the report
    assert set(people) == {
        "hunter2", "account_manager1", "account_manager2", "document_clerk1",
        "document_clerk2", "expeditor1",
    }  # fmt: skip
    held = ["in_work", "stalled", "overdue", "oldest_age_seconds", "median_age_seconds"]
    held += ["age_buckets"]
    done = ["completed", "finished_late", "outcomes", "handoffs"]
    bounces = ["bounces_received", "bounces_caused"]
    assert figures(people["hunter2"], held + done + bounces) == dict(
        in_work=0, stalled=0, overdue=0, oldest_age_seconds=None, median_age_seconds=None,
        age_buckets=[0] * 5, completed=1, finished_late=1, outcomes={"disqualified": 1},
        handoffs=0, bounces_received=0, bounces_caused=0,
    )  # fmt: skip
    # A came back to account1 (assigned at once): their work bounced, and they hold it
    assert figures(people["account_manager1"], held + done + bounces) == dict(
        in_work=1, stalled=0, overdue=0, oldest_age_seconds=9 * H, median_age_seconds=9 * H,
        age_buckets=[0, 1, 0, 0, 0], completed=1, finished_late=0, outcomes={"order": 1},
        handoffs=1, bounces_received=0, bounces_caused=1,
    )  # fmt: skip
    # L's client did not order
    assert figures(people["account_manager2"], held + done + bounces) == dict(
        in_work=0, stalled=0, overdue=0, oldest_age_seconds=None, median_age_seconds=None,
        age_buckets=[0] * 5, completed=1, finished_late=0, outcomes={"lost": 1}, handoffs=0,
        bounces_received=0, bounces_caused=0,
    )  # fmt: skip
    # H sat with document_clerk2 all day, stalled and overdue
    assert figures(people["document_clerk2"], held + done + bounces) == dict(
        in_work=1, stalled=1, overdue=1, oldest_age_seconds=59 * H, median_age_seconds=59 * H,
        age_buckets=[0, 0, 1, 0, 0], completed=0, finished_late=0, outcomes={}, handoffs=0,
        bounces_received=0, bounces_caused=0,
    )  # fmt: skip
    # the clerk received A's handoff and sent it back
    assert figures(people["document_clerk1"], done + bounces) == dict(
        completed=0, finished_late=0, outcomes={}, handoffs=0, bounces_received=1,
        bounces_caused=0,
    )  # fmt: skip
    assert figures(people["expeditor1"], done + bounces) == dict(
        completed=1, finished_late=1, outcomes={}, handoffs=1, bounces_received=0,
        bounces_caused=0,
    )  # fmt: skip


def test_handoff_quality_per_transition(played):
    transitions = {(row.from_node, row.to_node): row for row in day_figures(day=DAY).transitions}
    names = ["handoffs", "bounces", "claimed", "latency_median_seconds", "latency_max_seconds"]
    # A's and L's notes were written the day before; taken 22.5 h and 21.5 h later
    assert figures(transitions["conveyor.qualify", "conveyor.prepare_order"], names) == dict(
        handoffs=0, bounces=0, claimed=2,
        latency_median_seconds=22 * H, latency_max_seconds=22 * H + 1800,
    )  # fmt: skip
    assert figures(transitions["conveyor.prepare_order", "conveyor.documents"], names) == dict(
        handoffs=1, bounces=1, claimed=1, latency_median_seconds=H, latency_max_seconds=H,
    )  # fmt: skip
    # A's return to account1 after the bounce is not a handoff: no latency sample for it
    assert transitions["conveyor.prepare_order", "conveyor.documents"].bounce_rate == 1.0
    assert figures(transitions["conveyor.delivery", "conveyor.follow_up"], names) == dict(
        handoffs=1, bounces=0, claimed=0, latency_median_seconds=None, latency_max_seconds=None,
    )  # fmt: skip
    assert transitions["conveyor.documents", "conveyor.delivery"].handoffs == 0
    assert len(transitions) == 4


def test_the_ledger_credits_each_stage_its_share_as_the_pay_statements_do(played):
    report = day_figures(day=DAY)
    # E: 2,000.00 at 2.5 % -> 1,950.00, split 30/40/10/10/10 by the shipped pay plan; the
    # follow-up is not done yet, so its 195.00 is credited to nobody that day; A's order
    # is not delivered and earns nobody anything
    assert [(s.name, s.node, s.orders, s.amount) for s in report.ledger] == [
        ("hunter2", "conveyor.qualify", 1, Decimal("585.00")),
        ("account_manager2", "conveyor.prepare_order", 1, Decimal("780.00")),
        ("document_clerk2", "conveyor.documents", 1, Decimal("195.00")),
        ("expeditor1", "conveyor.delivery", 1, Decimal("195.00")),
    ]
    assert (report.orders_delivered, report.delivered_amount) == (1, Decimal("1950.00"))
    # the same shares as the month's statement
    from salesflow.pay.credit import CREDIT
    from salesflow.pay.selectors import statement

    month = statement(month=DAY.replace(day=1))
    credited = sorted((line.node, line.share) for line in month.lines if line.kind == CREDIT)
    assert credited == sorted((s.node, s.amount) for s in report.ledger)


def test_totals_add_up_every_stage(played):
    totals = day_figures(day=DAY).totals
    assert figures(totals, ["open", "unassigned", "in_work", "stalled", "overdue"]) == dict(
        open=5, unassigned=3, in_work=2, stalled=2, overdue=2
    )
    assert (totals.created, totals.completed, totals.finished_late) == (4, 4, 2)
    assert (totals.handoffs, totals.bounces_received, totals.oldest_age_seconds) == (2, 1, 62 * H)


def test_a_discount_rejection_is_the_approval_stage_outcome_not_a_bounce(staff, clock):
    clock.move_to(at(0, 9))
    lead = scenario.new_lead("R")
    scenario.complete(lead, staff["hunter"][0])
    clock.move_to(at(0, 10))
    scenario.complete(lead, staff["account_manager"][0], discount="15")  # over the 5 % limit
    assert scenario.open_task(lead).flow_task.name == "approve_discount"
    clock.move_to(at(0, 11))
    scenario.claim(lead, staff["team_lead"][0])
    scenario.bounce(lead, staff["team_lead"][0])
    clock.move_to(at(1, 0, 5))

    report = day_figures(day=DAY)
    stages = {row.key: row for row in report.stages}
    assert stages["conveyor.approve_discount"].outcomes == {"rejected": 1}
    assert stages["conveyor.approve_discount"].completed == 1
    assert stages["conveyor.approve_discount"].bounces_received == 0
    assert stages["conveyor.prepare_order"].bounces_caused == 0
    assert all(row.bounces == 0 for row in report.transitions)


def test_a_lost_deal_is_the_order_stage_outcome_lost_and_only_there(played):
    stages = {row.key: row for row in day_figures(day=DAY).stages}
    # L's client did not order on DAY; A's order went on to the documents
    assert stages["conveyor.prepare_order"].outcomes == {"order": 1, "lost": 1}
    # L's qualification the day before stays "qualified": the deal was lost later
    before = {row.key: row for row in day_figures(day=DAY - ONE_DAY).stages}
    assert before["conveyor.qualify"].outcomes == {"qualified": 2}
    assert outcome_label("lost") == "Lost: no order"


def test_an_idleness_stall_ended_by_a_change_of_hands_at_the_same_moment_is_over(staff, clock):
    hunter = staff["hunter"][0]
    clock.move_to(at(0, 8))
    lead = scenario.new_lead("P")
    scenario.claim(lead, hunter)
    clock.move_to(at(0, 12, 30))
    scenario.scan(lead)  # idle since 08:00
    claims.task_unassign(
        task=scenario.open_task(lead), user=hunter, reason="not mine"
    )  # the same instant
    clock.move_to(at(1, 0, 5))

    qualify = next(row for row in day_figures(day=DAY).stages if row.key == "conveyor.qualify")
    assert (qualify.open, qualify.unassigned, qualify.stalled) == (1, 1, 0)


# --- storing, re-running, backfilling ------------------------------------------------------


def test_the_stored_snapshot_reads_back_as_the_computed_report(played):
    computed = day_figures(day=DAY)
    snapshot = services.daily_report_build(day=DAY)
    stored = daily_report(day=DAY)
    assert snapshot.generated == at(1, 0, 5)
    assert without_build_times(stored) == computed


def test_running_a_day_again_replaces_its_snapshot_and_never_duplicates_it(played, clock):
    first = services.daily_report_build(day=DAY)
    rows = {model: model.objects.count() for model in ROW_MODELS}
    clock.move_to(at(1, 6))
    second = services.daily_report_build(day=DAY)

    assert Snapshot.objects.count() == 1 and second.pk == first.pk
    assert Snapshot.objects.get().generated == at(1, 6)
    assert {model: model.objects.count() for model in ROW_MODELS} == rows


def test_a_backfill_gives_the_figures_of_the_live_run(staff, played, clock):
    services.daily_report_build(day=DAY)  # the live run, 00:05 the morning after
    live = daily_report(day=DAY)
    # the next day moves everything on: C and A handed over, G taken, H moved to another
    # clerk -- which takes its stall mark off the task -- and then marked for its SLA
    scenario.play_the_day_after(staff, clock, played)
    clock.move_to(at(2, 7))
    assert without_build_times(day_figures(day=DAY)) == without_build_times(live)

    Snapshot.objects.all().delete()
    services.daily_report_build(day=DAY)  # the backfill
    backfill = daily_report(day=DAY)
    assert without_build_times(backfill) == without_build_times(live)
    stages = {row.key: row for row in backfill.stages}
    assert stages["conveyor.documents"].stalled == 1  # H was, as the audit trail says
    # ... and the day after has its own figures: G is still stalled with hunter2 (a stall
    # for the SLA outlasts a change of hands), H again, now for its SLA, with clerk1
    after = {row.key: row for row in day_figures(day=DAY + ONE_DAY).stages}
    assert figures(after["conveyor.qualify"], ["completed", "in_work", "stalled"]) == dict(
        completed=1, in_work=1, stalled=1
    )
    assert figures(after["conveyor.documents"], ["open", "in_work", "stalled"]) == dict(
        open=2, in_work=1, stalled=1
    )


def test_a_failed_run_leaves_the_previous_snapshot_untouched(staff, played, clock, monkeypatch):
    services.daily_report_build(day=DAY)
    before = daily_report(day=DAY)
    clock.move_to(at(1, 8))
    scenario.play_the_day_after(staff, clock, played)
    clock.move_to(at(2, 8))

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(Contribution.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError, match="disk is full"):
        services.daily_report_build(day=DAY)
    assert daily_report(day=DAY) == before


def test_days_start_and_end_at_midnight_in_the_configured_time_zone(staff, clock):
    clock.move_to(at(0, 20))
    lead = scenario.new_lead("Z")
    clock.move_to(at(0, 22, 30))  # 01:30 the next day in Moscow
    scenario.complete(lead, staff["hunter"][0], outcome="disqualified", disqualification_reason="x")
    clock.move_to(at(2, 9))

    def qualify(day):
        return next(r for r in day_figures(day=day).stages if r.key == "conveyor.qualify")

    assert qualify(DAY).completed == 1  # UTC, the default
    with override_settings(TIME_ZONE="Europe/Moscow"):
        assert qualify(DAY).completed == 0
        assert qualify(DAY).created == 1  # 23:00 in Moscow
        next_day = qualify(DAY + ONE_DAY)
        assert (next_day.completed, next_day.open, next_day.created) == (1, 0, 0)


def test_the_query_count_does_not_grow_with_the_data(staff, played, clock):
    services.daily_report_build(day=DAY)  # the first run inserts the day; re-runs update it
    with CaptureQueriesContext(connection) as small:
        services.daily_report_build(day=DAY)
    for number in range(8):
        clock.move_to(at(0, 18, number))
        scenario.complete(scenario.new_lead(f"more {number}"), staff["hunter"][number % 2])
    clock.move_to(at(1, 0, 5))
    with CaptureQueriesContext(connection) as large:
        services.daily_report_build(day=DAY)
    assert len(large) == len(small)
    assert StageFigures.objects.get(node="conveyor.qualify").completed == 9


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day_offset,message",
    [
        (1, "2026-03-03 has not ended yet: a day's report can be built from the next day on"),
        (5, "2026-03-07 has not ended yet"),
        (-4, "The conveyor's data begins on 2026-02-27; 2026-02-26 is before it."),
    ],
)
def test_a_day_that_cannot_be_reported_is_refused_and_nothing_is_written(
    played, day_offset, message
):
    day = DAY + day_offset * ONE_DAY
    with pytest.raises(ReportDayInvalid, match=message):
        services.daily_report_build(day=day)
    assert not Snapshot.objects.exists()
    assert not any(model.objects.exists() for model in ROW_MODELS)


def test_no_data_yet_is_refused(db, clock):
    clock.move_to(at(1, 1))
    with pytest.raises(ReportDayInvalid, match="There is no conveyor data yet"):
        services.daily_report_build(day=DAY)
    assert not Snapshot.objects.exists()


# --- the command ---------------------------------------------------------------------------------


def report_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("report", "daily", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_builds_yesterday_by_default(played):
    out, _ = report_command()
    assert "Daily report for 2026-03-02 stored: 5 open (3 unassigned), 4 completed" in out
    assert Snapshot.objects.get().day == DAY


def test_the_command_backfills_a_past_day_and_prints_json(played):
    out, err = report_command("--date", "2026-03-01", "--format", "json")
    data = json.loads(out)
    assert data["day"] == "2026-03-01"
    assert data["totals"]["completed"] == 2  # A and L, qualified by hunter1
    qualify = next(row for row in data["stages"] if row["key"] == "conveyor.qualify")
    assert qualify["outcomes"] == {"qualified": 2}  # L was lost the next day, not then
    assert "stored" in err  # the summary goes aside when the report is on standard output
    assert Snapshot.objects.get().day == DAY - ONE_DAY


def test_the_command_writes_csv_and_xlsx_files(played, tmp_path):
    report_command("--date", "2026-03-02", "--output", str(tmp_path / "day.csv"))
    csv_text = (tmp_path / "day.csv").read_bytes().decode()
    assert csv_text.startswith("Key figures\r\nFigure,Value\r\nDay,2026-03-02\r\n")
    assert "Contribution ledger\r\nPerson,Stage,Orders,Amount\r\nhunter2,Qualify,1,585.00" in (
        csv_text
    )

    report_command("--date", "2026-03-02", "--format", "xlsx", "--output", str(tmp_path / "d.x"))
    book = load_workbook(BytesIO((tmp_path / "d.x").read_bytes()))
    assert book.sheetnames == [
        "Key figures", "Roles", "Stages", "People", "Handoff quality", "Contribution ledger",
        "Age of open work",
    ]  # fmt: skip
    roles = list(book["Roles"].iter_rows(values_only=True))
    assert roles[1][:4] == ("Active-sales manager", 2, 2, 0)
    ledger = list(book["Contribution ledger"].iter_rows(values_only=True))
    assert ledger[1] == ("hunter2", "Qualify", 1, 585)
    assert Snapshot.objects.count() == 1  # built twice, stored once


@pytest.mark.parametrize(
    "args,message",
    [
        (["--date", "02.03.2026"], "--date must be a day written YYYY-MM-DD, not '02.03.2026'"),
        (["--date", "2026-03-03"], "2026-03-03 has not ended yet"),
        (["--date", "2026-02-01"], "The conveyor's data begins on 2026-02-27"),
        (["--format", "pdf"], "invalid choice: 'pdf'"),
        (["--output", "report.pdf"], "say the format with --format"),
        (["--format", "xlsx"], "XLSX is a binary file: give --output FILE"),
        (["--format", "csv", "--output", "/no/such/folder/r.csv"], "does not exist"),
        (["--email"], "No recipients are configured for the daily report"),
    ],
)
def test_the_command_refuses_bad_input_and_writes_nothing(played, tmp_path, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        report_command(*args)
    assert not Snapshot.objects.exists()
    assert not mail.outbox


def test_a_bad_command_line_exits_non_zero(tmp_path):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "report", "daily", "--format", "pdf"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "invalid choice: 'pdf'" in result.stderr


# --- the e-mail and the scheduled task ------------------------------------------------------


def test_the_email_has_the_key_figures_and_the_xlsx_attached_and_goes_once(played, clock):
    ReportRecipient.objects.create(email="lead@example.com", name="Team lead")
    ReportRecipient.objects.create(email="gone@example.com", active=False)
    services.daily_report_build(day=DAY)

    assert services.daily_report_email(day=DAY) is True
    (message,) = mail.outbox
    assert message.to == ["lead@example.com"]
    assert message.subject == "Daily queue report for 2026-03-02"
    assert "Open at the end of the day: 5 | — | —" in message.body
    assert "SLA breaches: 4 | — | —" in message.body
    assert "Orders delivered: 1 | — | —" in message.body
    ((name, content, mimetype),) = message.attachments
    assert name == "salesflow-report-2026-03-02.xlsx"
    assert mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert load_workbook(BytesIO(content))["Key figures"]["B2"].value == "2026-03-02"

    assert services.daily_report_email(day=DAY) is False  # once per day
    clock.move_to(at(1, 7))
    services.daily_report_build(day=DAY)  # a re-run keeps the day's "e-mailed"
    assert services.daily_report_email(day=DAY) is False
    assert len(mail.outbox) == 1


def test_the_email_is_marked_started_before_sending_and_never_sent_twice(played, clock):
    """Issue 12 (7a): the daily report's e-mail follows the outbox's rule -- a worker that
    died after the mail server took it leaves "started" without "e-mailed": the job run
    again does not send it a second time; a server that refused is retried."""
    ReportRecipient.objects.create(email="lead@example.com")
    services.daily_report_build(day=DAY)
    refusing = override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=9,  # nothing listens: refused before anything was accepted
        EMAIL_TIMEOUT=5,
    )
    with refusing, pytest.raises(OSError):
        services.daily_report_email(day=DAY)
    snapshot = Snapshot.objects.get()
    assert (snapshot.email_started, snapshot.emailed) == (None, None)  # the retry may send

    Snapshot.objects.update(email_started=at(1, 0, 5))  # as a worker killed mid-send leaves it
    assert services.daily_report_email(day=DAY) is False
    assert not mail.outbox
    assert services.daily_report_email(day=DAY, force=True) is True  # a person decides
    snapshot.refresh_from_db()
    assert snapshot.emailed is not None and len(mail.outbox) == 1


def test_the_email_compares_with_the_day_before_and_the_week_before(played, clock):
    ReportRecipient.objects.create(email="lead@example.com")
    services.daily_report_build(day=DAY - ONE_DAY)
    services.daily_report_build(day=DAY)
    services.daily_report_email(day=DAY)
    # open at the end of the day before: E's delivery, G, A and L at prepare order, B, H
    assert "Open at the end of the day: 5 | 6 | —" in mail.outbox[0].body


def test_no_recipients_is_refused_and_nothing_is_sent(played):
    services.daily_report_build(day=DAY)
    with pytest.raises(NoRecipients, match="add recipients under Reports"):
        services.daily_report_email(day=DAY)
    assert not mail.outbox
    assert Snapshot.objects.get().emailed is None


def test_the_scheduled_task_builds_yesterday_and_emails_it(played):
    ReportRecipient.objects.create(email="lead@example.com")
    result = daily_report_task.delay().get()
    assert result == {"day": "2026-03-02", "built": True, "emailed": True, "missed": []}
    assert Snapshot.objects.get(day=DAY).emailed == at(1, 0, 5)
    assert len(mail.outbox) == 1


def test_the_scheduled_task_without_recipients_still_stores_the_day(played):
    result = daily_report_task.delay().get()
    assert result == {"day": "2026-03-02", "built": True, "emailed": False, "missed": []}
    assert Snapshot.objects.filter(day=DAY).exists()


def test_the_next_run_builds_every_day_the_morning_job_missed_once(played, clock):
    services.daily_report_build(day=DAY - 2 * ONE_DAY)  # the last morning run that happened
    ReportRecipient.objects.create(email="lead@example.com")
    result = daily_report_task.delay().get()
    assert result == {"day": "2026-03-02", "built": True, "emailed": True, "missed": ["2026-03-01"]}
    assert sorted(Snapshot.objects.values_list("day", flat=True)) == [
        DAY - 2 * ONE_DAY,
        DAY - ONE_DAY,
        DAY,
    ]
    assert len(mail.outbox) == 1  # only yesterday's goes out
    clock.move_to(at(1, 6))
    assert daily_report_task.delay().get()["missed"] == []  # once


def test_a_workers_start_builds_every_missed_day_up_to_yesterday_once(played, clock):
    """Issue 17 (4): the broker was down at 06:00, so beat never sent the morning job; the
    catch-up a worker sends when it starts builds the missed days -- yesterday included --
    once each, and e-mails nothing (the mail is the morning job's)."""
    ReportRecipient.objects.create(email="lead@example.com")
    services.daily_report_build(day=DAY - 2 * ONE_DAY)  # the last morning run that happened
    assert catch_up_task.delay().get() == ["2026-03-01", "2026-03-02"]
    assert sorted(Snapshot.objects.values_list("day", flat=True)) == [
        DAY - 2 * ONE_DAY,
        DAY - ONE_DAY,
        DAY,
    ]
    generated = dict(Snapshot.objects.values_list("day", "generated"))
    assert not mail.outbox
    clock.move_to(at(1, 3))
    assert catch_up_task.delay().get() == []  # a second worker's start: nothing again
    assert dict(Snapshot.objects.values_list("day", "generated")) == generated


def test_the_catch_up_looks_back_only_as_far_as_the_setting_says(played):
    services.daily_report_build(day=DAY - 2 * ONE_DAY)
    with override_settings(SALESFLOW_REPORT_CATCH_UP_DAYS=1):
        assert services.daily_report_missing_days(until=DAY) == [DAY]
    assert services.daily_report_missing_days(until=DAY) == [DAY - ONE_DAY, DAY]


def test_nothing_is_caught_up_before_the_first_stored_report(played):
    """A new installation's reports begin with its first morning job, not a backfill."""
    assert services.daily_report_missing_days(until=DAY) == []
    assert catch_up_task.delay().get() == []
    assert not Snapshot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_runs_started_at_once_build_a_missed_day_once(new_lead):
    """Two workers starting at once (or one beside the morning job): both look for the
    missed day while it is locked; one builds it, the other finds it built."""
    with time_machine.travel(timezone.now() - 4 * ONE_DAY, tick=True):
        new_lead()
    missed = timezone.localdate() - 2 * ONE_DAY
    services.daily_report_build(day=missed - ONE_DAY)
    results: list[bool] = []

    def catch_up() -> None:
        try:
            results.append(services.daily_report_build_missing(day=missed))
        finally:
            connection.close()

    lock = f"SELECT pg_advisory_xact_lock({services._REPORT_DAY_LOCK_SPACE}, {missed.toordinal()})"
    with procs.holding(lock):
        runs = [threading.Thread(target=catch_up) for _ in range(2)]
        for run in runs:
            run.start()
        wait_until(
            lambda: len(procs.backends_waiting_for_a_lock()) == 2,
            timeout=60,
            what="both runs to wait for the day's lock",
        )
    for run in runs:
        run.join(timeout=60)
    assert sorted(results) == [False, True]
    assert Snapshot.objects.filter(day=missed).count() == 1


def test_the_scheduled_task_before_any_data_does_nothing(db, clock):
    clock.move_to(at(1, 1))
    assert daily_report_task.delay().get()["built"] is False
    assert not Snapshot.objects.exists()


def test_the_daily_report_is_a_default_periodic_job(db):
    from django_celery_beat.models import PeriodicTask

    job = PeriodicTask.objects.get(name="reports: daily queue report")
    assert job.task == "salesflow.reports.tasks.daily_report"
    assert (job.crontab.hour, job.crontab.minute) == ("6", "0")


# --- the embedded default: SQLite ----------------------------------------------------------
# Its median is a Python aggregate SQLite calls (queries.register_sqlite_functions);
# PostgreSQL's is percentile_cont. The same day must give the same figures.

PROJECT = Path(__file__).resolve().parent.parent


def comparable(data):
    """The report without what differs between two databases by nature: row ids and when
    it was built."""
    if isinstance(data, dict):
        return {
            key: comparable(value)
            for key, value in data.items()
            if key not in ("user_id", "generated", "emailed")
        }
    if isinstance(data, list):
        return [comparable(value) for value in data]
    return data


def test_sqlite_gives_the_same_report_as_postgresql(played, tmp_path):
    services.daily_report_build(day=DAY)
    on_postgresql = json.loads(report_json(daily_report(day=DAY)))

    result = subprocess.run(
        [sys.executable, "-m", "tests.report_on_sqlite"],
        cwd=PROJECT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'salesflow.sqlite3'}",
            "SALESFLOW_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    on_sqlite = json.loads(result.stdout)

    assert comparable(on_sqlite) == comparable(on_postgresql)
    assert on_sqlite["orders_delivered"] == 1  # not an empty report on both sides


def test_the_database_keeps_one_snapshot_per_day(played):
    from django.db import IntegrityError, transaction

    snapshot = services.daily_report_build(day=DAY)
    with pytest.raises(IntegrityError), transaction.atomic():
        Snapshot.objects.create(
            day=DAY, starts=snapshot.starts, ends=snapshot.ends, time_zone="UTC",
            generated=snapshot.generated,
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        StageFigures.objects.create(snapshot=snapshot, node="conveyor.qualify")
    assert Snapshot.objects.count() == 1


def test_a_delivery_stage_that_is_not_a_stage_stops_the_start_up():
    from salesflow.reports.checks import check_delivery_node

    assert check_delivery_node(None) == []
    with override_settings(SALESFLOW_DELIVERY_NODE="conveyor.shipping"):
        (error,) = check_delivery_node(None)
    assert error.id == "salesflow.E101"
    assert "'conveyor.shipping', which is not a stage" in error.msg


@pytest.mark.parametrize(
    "who,status",
    [("anonymous", 401), ("hunter", 403), ("account_manager", 403), ("team_lead", 200)],
)
def test_the_api_gives_a_stored_day_to_team_leads_only(staff, played, who, status):
    from rest_framework.test import APIClient

    services.daily_report_build(day=DAY)
    api = APIClient()
    if who != "anonymous":
        api.force_authenticate(staff[who][0])
    response = api.get(f"/api/reports/daily/{DAY.isoformat()}/")
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert body["day"] == DAY.isoformat()
        stages = {row["key"]: row for row in body["stages"]}
        for key, expected in EXPECTED_STAGES.items():
            assert {name: stages[key][name] for name in expected} == expected


def test_the_api_says_so_for_a_day_without_a_report_or_not_a_day(staff, played):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(staff["team_lead"][0])
    missing = api.get(f"/api/reports/daily/{DAY.isoformat()}/")
    assert missing.status_code == 404
    assert "There is no report for" in missing.json()["detail"]
    assert api.get("/api/reports/daily/yesterday/").status_code == 400


# --- selling and non-selling time ------------------------------------------------------------


def test_selling_and_non_selling_time_per_person_on_a_hand_built_day(staff, clock):
    """A hunter who also does side tasks: qualify taken 09:00, done 11:00 (2 h selling);
    the side task handed over at 09:30, taken 11:00, done 12:00 (1 h non-selling); a lead
    taken the evening before at 22:00 and qualified at 01:00 counts from midnight (1 h)."""
    from flows.sidework import side_task_request
    from salesflow.conveyor.services import stage_complete
    from tests.factories import UserFactory

    person = UserFactory(username="hunter_assistant", roles=["hunter", "assistant"])
    clock.move_to(at(-1, 22))
    night = scenario.new_lead("Night Owl Ltd")
    scenario.claim(night, person)
    clock.move_to(at(0, 1))
    scenario.complete(night, person, outcome="disqualified", disqualification_reason="no budget")

    clock.move_to(at(0, 9))
    lead = scenario.new_lead("Split Day Ltd")
    task = scenario.claim(lead, person)
    clock.move_to(at(0, 9, 30))
    side = side_task_request(task=task, user=person, kind="offer", brief="An offer", wait=False)
    clock.move_to(at(0, 11))
    scenario.complete(lead, person, outcome="disqualified", disqualification_reason="too small")
    side_stage = scenario.Task.objects.get(process_id=side.process_id, flow_task_type="HUMAN")
    side_stage = claims.task_claim(task=side_stage, user=person)
    clock.move_to(at(0, 12))
    stage_complete(task=side_stage, user=person, data={"result": "Sent"})
    clock.move_to(at(1, 0, 5))

    report = day_figures(day=DAY)
    row = next(p for p in report.people if p.user_id == person.pk)
    assert row.selling_seconds == 3 * H  # 00:00-01:00 and 09:00-11:00
    assert row.non_selling_seconds == 1 * H
    assert row.non_selling_share == pytest.approx(0.25)
    stored = services.daily_report_build(day=DAY)
    kept = PersonFigures.objects.get(snapshot=stored, user=person)
    assert (kept.selling_seconds, kept.non_selling_seconds) == (3 * H, H)
    read_back = next(p for p in daily_report(day=DAY).people if p.user_id == person.pk)
    assert read_back.non_selling_share == pytest.approx(0.25)
    people = json.loads(report_json(report))["people"]
    assert next(p for p in people if p["user_id"] == person.pk)["non_selling_seconds"] == H
