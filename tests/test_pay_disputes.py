"""Pay disputes end to end: a person disputes a line of their own statement, a team lead
decides it in the disputes flow's task -- accepted, an adjustment in the month (open) or
in the next open month (closed); rejected, the answer and no money moved -- and the person
reads the answer. Refusals write nothing; every page and endpoint is tried by every role.
Real PostgreSQL, the engine's own services, no mocks."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core import mail
from viewflow.workflow.models import Task
from viewflow.workflow.status import PROCESS, STATUS

import salesflow.urls  # noqa: F401 - mounts the flows' pages (their reverse needs it)
from salesflow.audit.models import AuditEvent
from salesflow.conveyor.services import stage_complete
from salesflow.exceptions import NotPermitted, SeparationOfDutiesViolated, StageInvalid
from salesflow.pay.credit import ADJUSTMENT
from salesflow.pay.disputes import pay_dispute_decide, pay_dispute_open
from salesflow.pay.exceptions import DisputeConflict, DisputeInvalid, PeriodRefused
from salesflow.pay.models import PayAdjustment, PayDispute, PayPeriod
from salesflow.pay.selectors import statement
from salesflow.pay.services import pay_period_close
from salesflow.queues import claims, stalled, terms

from . import pay_scenario as scenario
from .factories import UserFactory
from .test_pay_pages import api_client, page_client

pytestmark = pytest.mark.django_db
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
UTC = scenario.UTC
ROLES = ("anonymous", "hunter", "account_manager", "document_clerk", "expeditor", "team_lead")
DECISIONS = (AuditEvent.Action.PAY_DISPUTE_ACCEPT, AuditEvent.Action.PAY_DISPUTE_REJECT)


@pytest.fixture(autouse=True)
def april():
    """March is over and open (not closed); April runs."""
    with time_machine.travel(datetime(2026, 4, 2, 10, tzinfo=UTC), tick=False) as traveller:
        yield traveller


@pytest.fixture
def admin(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", "x")


def dispute_total(person, month=MARCH, reason="My base is missing the March bonus."):
    return pay_dispute_open(person=person, month=month, deal=None, stage="", reason=reason)


def decision_task(dispute: PayDispute) -> Task:
    return Task.objects.get(process_id=dispute.flow_process_id, flow_task_type="HUMAN")


def decide(dispute: PayDispute, user, **data: str) -> None:
    task = decision_task(dispute)
    if task.status == STATUS.NEW:
        task = claims.task_claim(task=task, user=user)
    stage_complete(task=task, user=user, data=data)


def decisions() -> int:
    return AuditEvent.objects.filter(action__in=DECISIONS).count()


# --- the flow ---------------------------------------------------------------------------


def test_a_dispute_waits_in_the_team_leads_pool_with_its_sla_and_is_audited(staff):
    hunter = staff["hunter"][0]
    dispute = dispute_total(hunter)
    assert dispute.status == PayDispute.Status.OPEN and dispute.line == "total"
    assert dispute.pay == statement(month=MARCH, user_ids=[hunter.pk]).total == Decimal("60000")
    task = decision_task(dispute)
    assert task.status == STATUS.NEW and task.owner_id is None  # in the pool, nobody's yet
    assert task.owner_permission == "flows.decide_pay_dispute"
    assert terms.DUE in task.data  # the team lead role's SLA for the stage
    event = AuditEvent.objects.get(action=AuditEvent.Action.PAY_DISPUTE)
    assert event.actor_id == hunter.pk and event.process_id == dispute.flow_process_id
    assert event.reason == "My base is missing the March bonus."
    # the pool is the team leads': a hunter cannot take it, a team lead can
    with pytest.raises(NotPermitted, match="roles do not include"):
        claims.task_claim(task=task, user=staff["hunter"][1])
    claims.task_claim(task=task, user=staff["team_lead"][0])


def test_the_decision_task_stalls_past_its_sla_like_any_stage(staff, april):
    task = decision_task(dispute_total(staff["hunter"][0]))
    april.shift(timedelta(days=1))
    assert task.pk not in stalled.stalled_scan()
    april.shift(timedelta(days=1, hours=1))  # the role file's 2 days are over
    assert task.pk in stalled.stalled_scan()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.STALLED, task=task).exists()


def test_an_accepted_dispute_in_an_open_month_is_an_adjustment_in_its_statement(
    staff, django_capture_on_commit_callbacks
):
    hunter, lead = staff["hunter"][0], staff["team_lead"][0]
    before = statement(month=MARCH, user_ids=[hunter.pk]).total
    dispute = dispute_total(hunter)
    with django_capture_on_commit_callbacks(execute=True):
        decide(dispute, lead, decision="accept", amount="1500.50", answer="The bonus was due.")
    dispute.refresh_from_db()
    assert dispute.status == PayDispute.Status.ACCEPTED and dispute.decided_by_id == lead.pk
    assert dispute.adjustment.month == MARCH and dispute.adjustment.amount == Decimal("1500.50")
    after = statement(month=MARCH, user_ids=[hunter.pk])
    assert after.total == before + Decimal("1500.50")
    [line] = [line for line in after.lines if line.kind == ADJUSTMENT]
    assert line.pay == Decimal("1500.50") and "The bonus was due." in line.note
    event = AuditEvent.objects.get(action=AuditEvent.Action.PAY_DISPUTE_ACCEPT)
    assert event.actor_id == lead.pk and event.to_user_id == hunter.pk
    assert event.data["amount"] == "1500.50" and event.data["paid_in"] == "2026-03"
    assert decision_task(dispute).status == STATUS.DONE
    assert dispute.flow_process.status == PROCESS.DONE
    # the person is told, once, with the answer
    [message] = [m for m in mail.outbox if hunter.email in m.to]
    assert "accepted" in message.subject and "The bonus was due." in message.body


def test_an_accepted_dispute_on_a_closed_month_is_paid_in_the_next_open_one(staff, admin):
    hunter, lead = staff["hunter"][0], staff["team_lead"][0]
    pay_period_close(month=MARCH, user=admin)
    closed_total = statement(month=MARCH, user_ids=[hunter.pk]).total
    april_before = statement(month=APRIL, user_ids=[hunter.pk]).total
    dispute = dispute_total(hunter)
    decide(dispute, lead, decision="accept", amount="-200.00", answer="Paid twice in March.")
    dispute.refresh_from_db()
    assert dispute.adjustment.month == APRIL and dispute.adjustment.corrects == MARCH
    assert statement(month=MARCH, user_ids=[hunter.pk]).total == closed_total  # frozen
    assert statement(month=APRIL, user_ids=[hunter.pk]).total == april_before - 200


def test_a_rejected_dispute_gives_the_answer_and_moves_no_money(staff, client):
    hunter, lead = staff["hunter"][0], staff["team_lead"][0]
    before = statement(month=MARCH, user_ids=[hunter.pk]).total
    dispute = dispute_total(hunter)
    decide(dispute, lead, decision="reject", answer="The bonus is paid in April.")
    dispute.refresh_from_db()
    assert dispute.status == PayDispute.Status.REJECTED and dispute.adjustment is None
    assert not PayAdjustment.objects.exists()
    assert statement(month=MARCH, user_ids=[hunter.pk]).total == before
    event = AuditEvent.objects.get(action=AuditEvent.Action.PAY_DISPUTE_REJECT)
    assert event.reason == "The bonus is paid in April." and event.to_user_id == hunter.pk
    client.force_login(hunter)
    row = _row(client.get("/pay/", {"period": "2026-03"}).content.decode(), dispute)
    assert "Rejected" in row and "The bonus is paid in April." in row and "lead1" in row


def test_an_accepted_dispute_needs_its_amount_and_every_decision_its_answer(staff):
    hunter, lead = staff["hunter"][0], staff["team_lead"][0]
    dispute = dispute_total(hunter)
    for data in (
        {"decision": "accept", "answer": "Yes."},
        {"decision": "accept", "amount": "100", "answer": "  "},
        {"decision": "reject", "answer": ""},
    ):
        with pytest.raises(StageInvalid):
            decide(dispute, lead, **data)
    dispute.refresh_from_db()
    assert dispute.status == PayDispute.Status.OPEN and decisions() == 0
    assert not PayAdjustment.objects.exists()


def test_a_person_cannot_decide_their_own_dispute(staff, admin):
    own, colleague = staff["team_lead"]
    dispute = dispute_total(own, reason="My team bonus is missing.")
    task = decision_task(dispute)
    assert task.data[terms.NOT_FOR] == own.pk
    # not taken by them, whatever the way: a claim, claim-next, a colleague's hand-out
    with pytest.raises(SeparationOfDutiesViolated, match="is about you"):
        claims.task_claim(task=task, user=own)
    assert claims.task_claim_next(user=own) is None
    assert not task.flow_task.can_assign(own, task)
    # ...and, were it theirs already (an admin's move before the rule), not completed
    Task.objects.filter(pk=task.pk).update(owner=own, status=STATUS.ASSIGNED)
    task.refresh_from_db()
    with pytest.raises(SeparationOfDutiesViolated, match="is about you"):
        stage_complete(
            task=task, user=own, data={"decision": "accept", "amount": "9", "answer": "x"}
        )
    # nor through the service itself
    with pytest.raises(SeparationOfDutiesViolated, match="a colleague must decide it"):
        pay_dispute_decide(process_id=dispute.flow_process_id, user=own, accept=True,
                           amount="9", answer="x")  # fmt: skip
    dispute.refresh_from_db()
    assert dispute.status == PayDispute.Status.OPEN and not PayAdjustment.objects.exists()
    assert decisions() == 0
    # nor anyone outside the team leads and admins
    with pytest.raises(NotPermitted):
        pay_dispute_decide(
            process_id=dispute.flow_process_id, user=staff["hunter"][0], accept=False, answer="no"
        )
    claims.task_unassign(task=task, user=own, reason="my own dispute")
    decide(dispute, colleague, decision="reject", answer="Paid with April's.")
    dispute.refresh_from_db()
    assert dispute.status == PayDispute.Status.REJECTED and dispute.decided_by_id == colleague.pk


def test_a_dispute_is_decided_once(staff, admin):
    dispute = dispute_total(staff["hunter"][0])
    decide(dispute, staff["team_lead"][0], decision="reject", answer="No.")
    with pytest.raises(DisputeConflict, match="decided already"):
        pay_dispute_decide(process_id=dispute.flow_process_id, user=admin, accept=True,
                           amount="5", answer="Yes after all.")  # fmt: skip
    assert decisions() == 1 and not PayAdjustment.objects.exists()


# --- what a person may dispute ------------------------------------------------------------


@pytest.fixture
def played(staff, pay_plans):
    """The hand-built March (``pay_scenario``): deals with lines of every kind."""
    with time_machine.travel(scenario.on(1, 9), tick=False) as clock:
        deals = scenario.play(staff, clock)
    return deals


def test_a_person_disputes_their_own_deal_line_and_nobody_elses(played, staff):
    hunter1, hunter2 = staff["hunter"]
    deal = played["P"].process_id  # qualified by hunter1
    mine = [
        line
        for line in statement(month=MARCH, user_ids=[hunter1.pk]).lines
        if line.process_id == deal and line.node == "conveyor.qualify"
    ]
    assert mine  # hunter1's credit for the stage
    dispute = pay_dispute_open(
        person=hunter1, month=MARCH, deal=deal, stage="conveyor.qualify", reason="Too little."
    )
    assert dispute.line == f"{deal}:conveyor.qualify" and dispute.client == mine[0].client
    assert dispute.pay == sum(line.pay for line in mine) > 0
    with pytest.raises(DisputeConflict, match="already"):
        pay_dispute_open(
            person=hunter1, month=MARCH, deal=deal, stage="conveyor.qualify", reason="Again."
        )
    # hunter2 has no line of this deal's qualification: it is hunter1's pay
    with pytest.raises(NotPermitted, match="only your own lines"):
        pay_dispute_open(
            person=hunter2, month=MARCH, deal=deal, stage="conveyor.qualify", reason="Mine!"
        )
    assert PayDispute.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.PAY_DISPUTE).count() == 1


@pytest.mark.parametrize(
    ("month", "reason", "error"),
    [
        (MARCH, "   ", DisputeInvalid),
        (MARCH, "x" * 2001, DisputeInvalid),
        (date(2026, 5, 1), "Not begun", NotPermitted),
    ],
)
def test_a_dispute_without_a_reason_or_of_a_month_not_begun_is_refused(staff, month, reason, error):
    with pytest.raises(error):
        dispute_total(staff["hunter"][0], month=month, reason=reason)
    assert not PayDispute.objects.exists() and not Task.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PAY_DISPUTE).exists()


# --- closing a month with a dispute waiting ------------------------------------------------


def test_closing_a_month_with_an_open_dispute_is_refused_with_the_reason(staff, admin):
    dispute = dispute_total(staff["hunter"][0])
    with pytest.raises(PeriodRefused, match="1 pay dispute.*waiting for a team lead"):
        pay_period_close(month=MARCH, user=admin)
    assert not PayPeriod.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.PAY_CLOSE).exists()
    # a dispute of another month does not hold March back; deciding this one frees it
    dispute_total(staff["hunter"][1], month=APRIL)
    decide(dispute, staff["team_lead"][0], decision="reject", answer="Nothing is missing.")
    assert pay_period_close(month=MARCH, user=admin).month == MARCH


def test_closing_refused_on_the_page_says_why(staff, admin, client):
    dispute_total(staff["hunter"][0])
    client.force_login(admin)
    response = client.post("/pay/close/", {"period": "2026-03"}, follow=True)
    assert "waiting for a team lead" in response.content.decode()
    assert not PayPeriod.objects.exists()


# --- pages, per role ------------------------------------------------------------------------


@pytest.fixture
def people(db):
    result = {role: UserFactory(username=role, roles=[role]) for role in ROLES[1:]}
    result["admin"] = get_user_model().objects.create_superuser("admin", "a@example.com", "x")
    result["anonymous"] = None
    return result


def _row(html: str, dispute: PayDispute) -> str:
    start = html.index(f'id="dispute-{dispute.pk}"')
    return html[start : html.index("</tr>", start)]


@pytest.mark.parametrize("role", (*ROLES, "admin"))
def test_everyone_disputes_their_own_total_on_my_earnings(people, role):
    client = page_client(people[role])
    page = client.get("/pay/", {"period": "2026-03"})
    if role == "anonymous":
        assert page.status_code == 302
        response = client.post("/pay/dispute/", {"period": "2026-03", "reason": "Wrong"})
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
        assert not PayDispute.objects.exists()
        return
    assert 'id="dispute-total"' in page.content.decode()
    response = client.post(
        "/pay/dispute/", {"period": "2026-03", "reason": "The base is wrong."}, follow=True
    )
    dispute = PayDispute.objects.get()
    assert dispute.user_id == people[role].pk and dispute.line == "total"
    text = response.content.decode()
    assert "Your dispute is with the team leads" in text
    row = _row(text, dispute)
    assert "Waiting for a decision" in row and "The base is wrong." in row
    assert "the month&#x27;s total" in row or "the month's total" in row
    assert 'id="total-disputed"' in text  # no second dispute of the same line offered
    assert ">disputed</span>" not in text  # the base line is not a deal's: not marked


def test_a_dispute_of_someone_elses_deal_on_the_page_is_refused_with_the_reason(played, staff):
    client = page_client(staff["hunter"][1])
    response = client.post(
        "/pay/dispute/",
        {
            "period": "2026-03",
            "deal": played["P"].process_id,
            "stage": "conveyor.qualify",
            "reason": "Mine!",
        },
        follow=True,
    )
    assert "only your own lines" in response.content.decode()
    assert not PayDispute.objects.exists()


@pytest.mark.parametrize("role", (*ROLES, "admin", "holder"))
def test_only_the_team_lead_holding_it_opens_the_decision_page(people, staff, role):
    dispute = dispute_total(staff["hunter"][0], reason="Where is my bonus?")
    holder = staff["team_lead"][0]
    task = claims.task_claim(task=decision_task(dispute), user=holder)
    url = task.flow_task.reverse("execute", args=[task.process_id, task.pk])
    user = holder if role == "holder" else people[role]
    response = page_client(user).get(url)
    if role == "anonymous":
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    elif role != "holder":
        assert response.status_code in (403, 409)
        assert "Where is my bonus?" not in response.content.decode()
    else:
        text = response.content.decode()
        assert response.status_code == 200
        assert 'id="pay-dispute"' in text and "Where is my bonus?" in text
        assert "hunter1" in text and "the month&#x27;s total" in text
        assert 'name="stage-decision"' in text and 'name="stage-amount"' in text
        # decided on the page
        done = page_client(holder).post(
            url,
            {
                "action": "complete",
                "stage-decision": "accept",
                "stage-amount": "250",
                "stage-answer": "Added.",
            },
        )
        assert done.status_code == 302
        dispute.refresh_from_db()
        assert dispute.status == PayDispute.Status.ACCEPTED
        assert dispute.adjustment.amount == Decimal("250")
    if role != "holder":
        dispute.refresh_from_db()
        assert dispute.status == PayDispute.Status.OPEN and decisions() == 0


def test_the_pages_speak_russian(staff, client):
    hunter, lead = staff["hunter"][0], staff["team_lead"][0]
    dispute = dispute_total(hunter)
    decide(dispute, lead, decision="reject", answer="Нет.")
    client.force_login(hunter)
    text = client.get("/pay/", {"period": "2026-03"}, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Мои споры" in text and "Отклонён" in text and "Оспорить" in text


# --- the API, per role ----------------------------------------------------------------------


@pytest.mark.parametrize("role", (*ROLES, "admin"))
def test_the_api_disputes_ones_own_lines_and_lists_ones_own_disputes(people, staff, role):
    other = dispute_total(staff["hunter"][1], reason="Somebody else's.")
    client = api_client(people[role])
    response = client.post(
        "/api/pay/2026-03/disputes/", {"reason": "The base is wrong."}, format="json"
    )
    if role == "anonymous":
        assert response.status_code in (401, 403)
        assert client.get("/api/pay/2026-03/disputes/").status_code in (401, 403)
        assert PayDispute.objects.count() == 1
        return
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["line"] == "total" and body["status"] == "open" and body["deal"] is None
    listed = client.get("/api/pay/2026-03/disputes/").json()
    assert [item["id"] for item in listed] == [body["id"]]  # never someone else's
    assert other.pk not in [item["id"] for item in listed]
    again = client.post(
        "/api/pay/2026-03/disputes/", {"reason": "The base is wrong."}, format="json"
    )
    assert again.status_code == 409


def test_the_api_refuses_bad_input_with_the_reason(staff):
    client = api_client(staff["hunter"][0])
    assert (
        client.post("/api/pay/2026-13/disputes/", {"reason": "x"}, format="json").status_code == 400
    )
    assert client.post("/api/pay/2026-03/disputes/", {}, format="json").status_code == 400
    refused = client.post(
        "/api/pay/2026-03/disputes/",
        {"deal": 12345, "stage": "conveyor.qualify", "reason": "x"},
        format="json",
    )
    assert refused.status_code == 403 and "only your own lines" in refused.json()["detail"]
    assert not PayDispute.objects.exists()


def test_the_api_shows_the_answer_once_decided(staff):
    hunter = staff["hunter"][0]
    dispute = dispute_total(hunter)
    decide(dispute, staff["team_lead"][0], decision="accept", amount="10.05", answer="Right.")
    [item] = api_client(hunter).get("/api/pay/2026-03/disputes/").json()
    assert item["status"] == "accepted" and item["answer"] == "Right."
    assert item["adjustment"] == "10.05" and item["paid_in"] == "2026-03"
    assert item["decided_by"] == "team_lead1"


def test_the_team_statement_lists_the_months_disputes_and_why_it_cannot_close(staff, client):
    hunter, lead = staff["hunter"][0], staff["team_lead"][0]
    decided = dispute_total(staff["hunter"][1], reason="Too little.")
    decide(decided, lead, decision="accept", amount="75", answer="Fair.")
    waiting = dispute_total(hunter, reason="Where is my bonus?")
    client.force_login(staff["team_lead"][1])
    text = client.get("/pay/team/", {"period": "2026-03"}).content.decode()
    assert "1 pay dispute waits for a team lead" in text
    # the waiting one first, above the lines
    assert text.index(f'id="dispute-{waiting.pk}"') < text.index(f'id="dispute-{decided.pk}"')
    assert text.index(f'id="dispute-{decided.pk}"') < text.index('id="lines"')
    row = _row(text, waiting)
    assert "hunter1" in row and "Where is my bonus?" in row and "Waiting for a decision" in row
    task = decision_task(waiting)
    assert task.flow_task.reverse("index", args=[task.process_id, task.pk]) in row
    row = _row(text, decided)
    assert "Accepted" in row and "75.00 (2026-03)" in row and "Fair." in row
    # a person's page shows only their own disputes
    client.force_login(hunter)
    mine = client.get("/pay/", {"period": "2026-03"}).content.decode()
    assert f'id="dispute-{waiting.pk}"' in mine and f'id="dispute-{decided.pk}"' not in mine
