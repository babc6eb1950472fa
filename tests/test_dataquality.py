"""The database operator's queue: each rule fills it (probable duplicates, incomplete cards
by the role file's rules, failed contacts, mail that matched no client), once; each task
has its SLA; fixing a card is audited; bad fixes are refused and change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from viewflow.workflow.models import Task

from flows.dataquality_work import data_quality_scan
from flows.models import DataIssue
from salesflow.activities.capture import mail_capture
from salesflow.activities.models import Activity, CallIntegration, ExchangeCall
from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Client, DuplicateReview
from salesflow.conveyor.services import stage_complete
from salesflow.exceptions import StageInvalid
from salesflow.intake.services import LeadData, duplicate_keep_apart, lead_receive
from salesflow.queues import claims, terms
from salesflow.roles import get_roles

from .factories import ClientFactory, ContactFactory
from .mailtools import russian_mail

pytestmark = pytest.mark.django_db


TAX_NUMBERS = iter(range(7701100000, 7701199999))


def complete_client(**kwargs) -> Client:
    tax_number = kwargs.pop("tax_number", None)
    if tax_number is None:
        tax_number = str(next(TAX_NUMBERS))
    client = ClientFactory(tax_number=tax_number, **kwargs)
    ContactFactory(client=client, is_decision_maker=True)
    return client


def fix_task(issue: DataIssue) -> Task:
    return Task.objects.get(process_id=issue.process_id, flow_task_type="HUMAN")


def take(issue: DataIssue, user) -> Task:
    task = fix_task(issue)
    claims.task_claim(task=task, user=user)
    task.refresh_from_db()
    return task


def test_the_role_file_declares_what_a_complete_card_has():
    assert get_roles()["database_operator"].card_rules == (
        "tax_number",
        "decision_maker",
        "working_contact",
    )
    assert "dataquality.fix" in get_roles()["database_operator"].nodes


def test_incomplete_cards_are_listed_by_each_rule_once(staff):
    complete_client(name="Complete Ltd")
    no_tax = complete_client(name="No Tax Ltd", tax_number="")
    no_dm = ClientFactory(name="No DM Ltd", tax_number="7701000002")
    ContactFactory(client=no_dm, is_decision_maker=False)
    nobody = ClientFactory(name="Nobody Ltd", tax_number="7701000003")

    started = data_quality_scan()

    assert started["incomplete"] == 3
    issues = {i.client_id: i for i in DataIssue.objects.filter(kind="incomplete")}
    assert set(issues) == {no_tax.pk, no_dm.pk, nobody.pk}
    assert "no tax number" in issues[no_tax.pk].detail
    assert "no decision maker" in issues[no_dm.pk].detail
    assert "no contact that works" in issues[nobody.pk].detail
    task = fix_task(issues[no_tax.pk])
    assert task.owner_id is None  # waiting in the operators' pool
    assert task.flow_task.name == "fix"
    assert terms.DUE in task.data  # the stage's SLA (2d) gives it a due date
    assert task.owner_permission == "flows.fix_client_data"

    assert data_quality_scan()["incomplete"] == 0  # run again: nothing twice


def test_a_probable_duplicate_is_the_operators_and_the_team_lead_keeps_the_right(staff):
    known = complete_client(name="Volga Pumps LLC", tax_number="7701234567")
    known.status = Client.Status.CUSTOMER
    known.save(update_fields=["status"])
    held = lead_receive(
        data=LeadData(company="Volga Pump", phone="+7 911 555 00 11"), source="web_form"
    )
    review = DuplicateReview.objects.get(lead=held.lead)

    assert data_quality_scan()["duplicate"] == 1
    issue = DataIssue.objects.get(kind="duplicate")
    assert issue.review == review and "Volga Pumps LLC" in issue.detail

    operator = staff["database_operator"][0]
    task = take(issue, operator)
    with pytest.raises(StageInvalid) as refused:  # a decision is needed
        stage_complete(task=task, user=operator, data={"note": "looked at it"})
    assert "merge" in refused.value.message.lower()
    review.refresh_from_db()
    assert review.decided is None

    stage_complete(
        task=task, user=operator, data={"decision": "keep_apart", "note": "Different city"}
    )
    review.refresh_from_db()
    assert review.decision == DuplicateReview.Decision.KEPT_APART
    assert review.decided_by == operator
    issue.refresh_from_db()
    assert issue.status == DataIssue.Status.FIXED

    # the team lead still decides one themselves
    other = lead_receive(
        data=LeadData(company="VOLGA PUMPS", phone="+7 911 555 00 22"), source="web_form"
    )
    lead_review = DuplicateReview.objects.get(lead=other.lead)
    duplicate_keep_apart(review_id=lead_review.pk, user=staff["team_lead"][0])
    assert data_quality_scan()["duplicate"] == 0  # decided: nothing for the operator


def failed_call(client, contact, status="failed", minutes_ago=10):
    activity = Activity.objects.create(
        kind=Activity.Kind.CALL,
        client=client,
        contact=contact,
        occurred=timezone.now() - timedelta(minutes=minutes_ago),
        source=Activity.Source.PERSON,
    )
    integration, _ = CallIntegration.objects.get_or_create(
        name="pbx", defaults={"secret": "s" * 40}
    )
    return ExchangeCall.objects.create(
        integration=integration, call_id=f"c{activity.pk}", activity=activity, status=status
    )


def test_a_contact_whose_last_call_failed_is_listed(staff):
    client = complete_client(name="Silent Ltd")
    contact = client.contacts.get()
    answered = complete_client(name="Talking Ltd")
    failed_call(answered, answered.contacts.get(), status="failed", minutes_ago=30)
    failed_call(answered, answered.contacts.get(), status="answered")  # later: it works
    failed_call(client, contact)

    assert data_quality_scan()["unreachable"] == 1
    issue = DataIssue.objects.get(kind="unreachable")
    assert issue.contact == contact and issue.client == client
    assert data_quality_scan()["unreachable"] == 0


def test_mail_that_matched_no_client_is_listed_and_put_on_a_timeline(staff):
    mail_capture(
        raw=russian_mail(sender="stranger@nowhere.example", subject="Price list request"),
        source="test",
    )
    mail = Activity.objects.get(client__isnull=True)
    assert data_quality_scan()["unmatched"] == 1
    issue = DataIssue.objects.get(kind="unmatched")
    assert issue.activity == mail and "Price list request" in issue.detail

    operator = staff["database_operator"][0]
    target = complete_client(name="Kama Tyres")
    task = take(issue, operator)
    stage_complete(
        task=task, user=operator, data={"match_client": target.pk, "note": "Their buyer's mail"}
    )
    mail.refresh_from_db()
    assert mail.client == target and mail.triaged_by == operator


def test_fixing_a_card_is_audited_with_what_was_and_what_is(staff):
    client = ClientFactory(name="No Tax Ltd", tax_number="")
    contact = ContactFactory(client=client, is_decision_maker=False)
    data_quality_scan()
    issue = DataIssue.objects.get(client=client)
    operator = staff["database_operator"][0]
    task = take(issue, operator)

    stage_complete(
        task=task,
        user=operator,
        data={"tax_number": "7709999999", "decision_maker": str(contact.pk), "note": "Called"},
    )
    client.refresh_from_db()
    contact.refresh_from_db()
    assert client.tax_number == "7709999999" and contact.is_decision_maker
    event = AuditEvent.objects.get(action=AuditEvent.Action.DATA_FIX)
    assert event.actor == operator and event.client_id == client.pk
    assert event.data["before"] == {"tax_number": ""}
    assert event.data["after"] == {"tax_number": "7709999999"}
    assert "decision_maker" in event.data["changed"]


def test_a_fix_that_would_make_a_duplicate_is_refused_and_changes_nothing(staff):
    complete_client(name="Owner Ltd", tax_number="7705555555")
    client = ClientFactory(name="No Tax Ltd", tax_number="")
    ContactFactory(client=client)
    data_quality_scan()
    issue = DataIssue.objects.get(client=client)
    operator = staff["database_operator"][0]
    task = take(issue, operator)

    with pytest.raises(StageInvalid) as refused:
        stage_complete(
            task=task, user=operator, data={"tax_number": "7705555555", "note": "Found it"}
        )
    assert "Another client has this tax number" in str(refused.value.errors)
    client.refresh_from_db()
    assert client.tax_number == ""
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.DATA_FIX).exists()
    issue.refresh_from_db()
    assert issue.status == DataIssue.Status.OPEN


@pytest.mark.parametrize("role", ["hunter", "assistant", "team_lead"])
def test_only_the_operators_take_data_quality_tasks(staff, role):
    ClientFactory(name="No Tax Ltd", tax_number="")
    data_quality_scan()
    issue = DataIssue.objects.get()
    task = fix_task(issue)
    with pytest.raises(Exception):  # noqa: B017 - the refusal's class is the pools' business
        claims.task_claim(task=task, user=staff[role][0])
    task.refresh_from_db()
    assert task.owner_id is None


@pytest.mark.parametrize(
    "who,status",
    [("anonymous", 302), ("hunter", 403), ("database_operator", 200), ("team_lead", 200)],
)
def test_the_probable_duplicates_page_is_the_operators_and_the_team_leads(
    client, staff, who, status
):
    if who != "anonymous":
        client.force_login(staff[who][0])
    assert client.get("/clients/duplicates/").status_code == status


@pytest.mark.parametrize("who,status", [("anonymous", 302), ("other", 403), ("holder", 200)])
def test_a_fix_page_is_its_holders(client, staff, who, status):
    ClientFactory(name="No Tax Ltd", tax_number="")
    data_quality_scan()
    issue = DataIssue.objects.get()
    holder, other = staff["database_operator"]
    task = take(issue, holder)
    if who != "anonymous":
        client.force_login(holder if who == "holder" else other)
    page = client.get(f"/dataquality/{task.process_id}/fix/{task.pk}/execute/")
    assert page.status_code == status
    if status == 200:
        body = page.content.decode()
        assert "no tax number" in body  # what is wrong, above the fix
        assert "Tax number" in body and "Hand to the assistant" not in body


def test_the_scan_is_a_periodic_job_and_a_command(staff):
    from io import StringIO

    from django.core.management import call_command

    from flows.tasks import data_quality_scan as job
    from salesflow.celery import app
    from salesflow.schedules import DEFAULT_SCHEDULES

    names = [spec["task"] for spec in DEFAULT_SCHEDULES.values()]
    assert "flows.tasks.data_quality_scan" in names
    app.loader.import_default_modules()
    assert "flows.tasks.data_quality_scan" in app.tasks
    ClientFactory(name="No Tax Ltd", tax_number="")
    assert job()["incomplete"] == 1
    out = StringIO()
    call_command("data_quality_scan", "--json", stdout=out)
    assert '"incomplete": 0' in out.getvalue()  # already listed
