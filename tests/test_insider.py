"""The client base stays with the company, tried as a hostile insider would (issue 11).

Each test is a scenario that worked against the product before: a task made to read a
client, the claim -> read -> give back loop, handoff notes read by anyone of the role,
viewflow's own pages around the services, a team lead offboarding the admin, rules
checked only when work is handed out, an audit table its runtime role could empty,
password spraying, tokens stored in clear, the development defaults on a public address.
A refusal is asserted with its message and with nothing changed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg2
import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client as Browser
from django.test import override_settings
from django.utils import timezone
from knox.models import AuthToken
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from salesflow.audit.grants import runtime_role_statements
from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Contact, Lead
from salesflow.conveyor import services as conveyor
from salesflow.exceptions import NotPermitted, SalesflowError, SeparationOfDutiesViolated
from salesflow.intake.services import LeadData, lead_receive
from salesflow.queues import claims
from salesflow.queues.moves import task_reassign, user_offboard
from salesflow.security import (
    DevelopmentDefaultsGuard,
    bind_hosts,
    development_defaults_refusal,
)
from salesflow.watch.models import LeakAlert
from salesflow.watch.services import suspension_clear

from .conftest import open_task
from .factories import ClientFactory, ContactFactory, UserFactory
from .test_clients import EMAIL, PHONE, api_as, leaks, signed_in
from .test_http import NOTES, STAGE_DATA, stage_post

pytestmark = pytest.mark.django_db
TAX = "7707083893"


def events(action: str) -> int:
    return AuditEvent.objects.filter(action=action).count()


@pytest.fixture
def prospect(staff, new_lead):
    """A prospect the company knows, with a known contact, and nobody's task open for it."""
    client = ClientFactory(name="Volga Pumps", tax_number=TAX)
    ContactFactory(client=client, name="Buyer", phone=PHONE, email=EMAIL)
    return client


def _stage_url(task: Task, page: str = "execute") -> str:
    return f"/conveyor/{task.process_id}/{task.flow_task.name}/{task.pk}/{page}/"


# --- 1. harvesting contacts -----------------------------------------------------------------


def test_a_task_made_from_the_web_form_does_not_let_its_holder_read_the_client(staff, prospect):
    hunter = staff["hunter"][0]
    contacts = set(Contact.objects.values_list("pk", flat=True))
    form = Browser().post(
        "/leads/form/",
        {"company": "anything", "tax_number": TAX, "phone": "+7 999 000 00 01", "request": "hi"},
    )
    assert form.status_code == 302
    lead = Lead.objects.get(client=prospect)
    # the outsider's phone is kept on the lead, unverified: not one of the client's contacts
    assert set(Contact.objects.values_list("pk", flat=True)) == contacts
    assert lead.contact is None and lead.unverified_contact == {"phone": "+7 999 000 00 01"}

    task = open_task(lead)
    browser = signed_in(hunter)
    assert browser.post(_stage_url(task, "assign"))["Location"] == _stage_url(task)
    page = browser.get(_stage_url(task))
    assert page.status_code == 200 and not leaks(page.content.decode())
    assert "Show (recorded)" in page.content.decode()
    answer = api_as(hunter).get(f"/api/tasks/{task.pk}/").json()
    assert not leaks(str(answer)) and answer["contacts"][0]["can_reveal"]
    assert events(AuditEvent.Action.REVEAL) == 0

    shown = api_as(hunter).post(
        f"/api/contacts/{answer['contacts'][0]['id']}/reveal/", {"task": task.pk}, format="json"
    )
    assert shown.status_code == 200 and shown.json()["phone"] == PHONE
    reveal = AuditEvent.objects.get(action=AuditEvent.Action.REVEAL)
    assert (reveal.actor, reveal.task_id, reveal.client_id) == (hunter, task.pk, prospect.pk)
    assert reveal.reason == f"working on task #{task.pk}"


def test_giving_a_task_back_unworked_needs_a_reason(staff, new_lead):
    hunter = staff["hunter"][0]
    task = claims.task_claim(task=open_task(new_lead()), user=hunter)
    before = events(AuditEvent.Action.UNASSIGN)

    refused = signed_in(hunter).post(_stage_url(task, "unassign"), {"reason": "  "})

    assert refused.status_code == 400
    assert "Say why you give the task back" in refused.content.decode()
    assert Task.objects.get(pk=task.pk).owner == hunter
    assert events(AuditEvent.Action.UNASSIGN) == before
    with pytest.raises(SalesflowError, match="Say why you give the task back"):
        claims.task_unassign(task=task, user=hunter, reason="")

    given = signed_in(hunter).post(_stage_url(task, "unassign"), {"reason": "wrong region"})
    assert given.status_code == 302 and given["Location"] == "/work/pools/hunter/mine/"
    event = AuditEvent.objects.get(action=AuditEvent.Action.UNASSIGN)
    assert (event.from_user, event.reason) == (hunter, "wrong region")


def test_the_claim_read_give_back_loop_alerts_the_team_leads_and_suspends_reveals(
    staff, new_lead, prospect, django_capture_on_commit_callbacks
):
    hunter, lead_person = staff["hunter"][0], staff["team_lead"][0]
    limit = 5  # roles/hunter.toml: [leak_watch] unassigns
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(limit + 1):
            task = claims.task_claim(task=open_task(new_lead(client=prospect)), user=hunter)
            claims.task_unassign(task=task, user=hunter, reason=f"not mine {n}")
    alert = LeakAlert.objects.get()
    assert (alert.user, alert.kind, alert.count, alert.limit) == (hunter, "unassigns", 6, 5)
    assert alert.suspends and alert.cleared is None
    warning = AuditEvent.objects.get(action=AuditEvent.Action.LEAK_WARNING)
    assert warning.from_user == hunter and warning.data["kind"] == "unassigns"
    # the team leads are told -- who and how many, never a contact
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "leak early warning" in message.subject and "hunter1" in message.subject
    assert set(message.to) == {"team_lead1@example.com", "team_lead2@example.com"}
    assert "6 tasks given back unworked" in message.body and not leaks(message.body)
    # ... and the console shows it
    console = signed_in(lead_person).get("/work/console/").content.decode()
    assert "Leak early warnings" in console and "reveals suspended" in console

    # reveals are suspended: refused with the reason, nothing written
    task = claims.task_claim(task=open_task(new_lead(client=prospect)), user=hunter)
    contact = prospect.contacts.get(name="Buyer")
    reveals = events(AuditEvent.Action.REVEAL)
    refused = api_as(hunter).post(
        f"/api/contacts/{contact.pk}/reveal/", {"task": task.pk}, format="json"
    )
    assert refused.status_code == 403
    assert "Your reveals are suspended since" in refused.json()["detail"]
    assert "A team lead can clear it in the team console" in refused.json()["detail"]
    assert events(AuditEvent.Action.REVEAL) == reveals

    # a team lead clears it (with a reason); then the hunter may show contacts again
    no_reason = signed_in(lead_person).post(f"/work/console/suspensions/{hunter.pk}/clear/")
    assert no_reason.status_code == 302
    assert LeakAlert.objects.get().cleared is None
    done = signed_in(lead_person).post(
        f"/work/console/suspensions/{hunter.pk}/clear/", {"reason": "moved to the north region"}
    )
    assert done.status_code == 302 and done["Location"] == "/work/console/"
    alert.refresh_from_db()
    assert (alert.cleared_by, alert.cleared_reason) == (lead_person, "moved to the north region")
    assert AuditEvent.objects.get(action=AuditEvent.Action.LEAK_CLEARED).from_user == hunter
    shown = api_as(hunter).post(
        f"/api/contacts/{contact.pk}/reveal/", {"task": task.pk}, format="json"
    )
    assert shown.status_code == 200 and shown.json()["email"] == EMAIL


def test_a_suspension_is_cleared_by_a_colleague_not_by_oneself(staff):
    lead_person, other = staff["team_lead"]
    LeakAlert.objects.create(
        user=lead_person, day=timezone.localdate(), kind="reveals", count=81, limit=80
    )
    with pytest.raises(NotPermitted, match="A colleague must clear your own suspension"):
        suspension_clear(user=lead_person, by=lead_person, reason="fine")
    with pytest.raises(NotPermitted, match="Only a team lead can clear"):
        suspension_clear(user=lead_person, by=staff["hunter"][0], reason="fine")
    assert LeakAlert.objects.get().cleared is None
    assert events(AuditEvent.Action.LEAK_CLEARED) == 0
    suspension_clear(user=lead_person, by=other, reason="a complaint week")
    assert LeakAlert.objects.get().cleared_by == other


def test_reveals_over_the_daily_limit_raise_one_alert_per_crossing(staff, prospect, settings):
    lead_person = staff["team_lead"][0]  # may reveal any contact; limit 80 a day
    contact = prospect.contacts.get(name="Buyer")
    api = api_as(lead_person)
    for _ in range(80):
        assert api.post(f"/api/contacts/{contact.pk}/reveal/").status_code == 200
    assert not LeakAlert.objects.exists()
    assert api.post(f"/api/contacts/{contact.pk}/reveal/").status_code == 200  # the 81st
    assert LeakAlert.objects.get().count == 81
    assert api.post(f"/api/contacts/{contact.pk}/reveal/").status_code == 403


def test_an_unauthenticated_leads_contact_is_confirmed_by_a_person(staff, prospect):
    lead = lead_receive(
        data=LeadData(company="x", tax_number=TAX, contact_name="Olga", phone="+7 999 1"),
        source=Lead.Source.WEB_FORM,
    ).lead
    assert prospect.contacts.count() == 1
    task = open_task(lead)
    outsider = staff["hunter"][1]
    refused = signed_in(outsider).post(_stage_url(task), {"action": "confirm_contact"})
    assert refused.status_code == 409  # nobody's yet: no one works on it, nothing confirmed
    assert Lead.objects.get(pk=lead.pk).unverified_contact
    hunter = staff["hunter"][0]
    claims.task_claim(task=task, user=hunter)
    page = signed_in(hunter).get(_stage_url(task)).content.decode()
    assert "Given with the lead, not verified" in page and "+7 999 1" in page

    confirmed = signed_in(hunter).post(_stage_url(task), {"action": "confirm_contact"})

    assert confirmed.status_code == 302
    lead.refresh_from_db()
    assert lead.unverified_contact == {} and lead.contact.name == "Olga"
    assert prospect.contacts.count() == 2
    event = AuditEvent.objects.get(action=AuditEvent.Action.CONFIRM_CONTACT)
    assert (event.actor, event.client_id) == (hunter, prospect.pk)


def test_the_intake_never_says_whose_contact_a_phone_is(staff, prospect):
    hunter = staff["hunter"][0]
    answer = api_as(hunter).post(
        "/api/leads/",
        {"company": "Who is it", "phone": PHONE},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert answer.status_code == 201
    body = answer.json()
    assert body["outcome"] == "existing_client"
    assert body["client"] is None
    assert "Volga" not in str(body) and "Buyer" not in str(body)
    assert body["reason"] == "a phone or e-mail the client base already has"
    page = signed_in(hunter).post(
        "/clients/leads/new/", {"company": "Who is it", "phone": PHONE}, follow=True
    )
    text = page.content.decode()
    assert "a phone or e-mail the client base already has" in text
    assert "the same phone as Buyer" not in text and page.redirect_chain[-1][0] == "/clients/"
    # the tax number is public registry data: saying so is no lookup of a person
    by_tax = api_as(hunter).post(
        "/api/leads/",
        {"company": "Who", "tax_number": TAX, "email": "new.person@volga.example"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )
    assert by_tax.status_code == 201, by_tax.json()
    assert by_tax.json()["client"]["name"] == "Volga Pumps"


# --- 2. handoff notes are contact data -----------------------------------------------------


def test_handoff_notes_are_read_by_the_holder_and_recorded_for_a_team_lead(staff, new_lead, driver):
    lead = new_lead()
    waiting = driver().advance_to(lead.process_id, "prepare_order")  # a note waits for it
    member = staff["account_manager"][0]
    withheld = api_as(member).get(f"/api/tasks/{waiting.pk}/").json()
    assert withheld["notes_withheld"] is True and withheld["incoming_notes"] == []
    assert NOTES["qualify"]["decision_maker"] not in str(withheld)
    assert events(AuditEvent.Action.REVEAL) == 0

    lead_person = staff["team_lead"][0]
    read = api_as(lead_person).get(f"/api/tasks/{waiting.pk}/").json()
    assert read["notes_withheld"] is False and read["incoming_notes"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.REVEAL)
    assert (event.actor, event.task_id) == (lead_person, waiting.pk) and event.data["notes"]

    claims.task_claim(task=waiting, user=member)
    held = api_as(member).get(f"/api/tasks/{waiting.pk}/").json()
    assert held["incoming_notes"][0]["fields"]
    assert events(AuditEvent.Action.REVEAL) == 1  # the holder's reading is their work

    # a finished deal's notes are nobody's to browse
    hunter_task = Task.objects.get(
        process_id=lead.process_id, flow_task_type="HUMAN", pk__lt=waiting.pk
    )
    done = api_as(staff["hunter"][1]).get(f"/api/tasks/{hunter_task.pk}/").json()
    assert done["notes_withheld"] is True


# --- 3. caches, exports ---------------------------------------------------------------------


def test_pages_and_api_answers_are_not_kept_in_caches(staff, new_lead, prospect):
    hunter = staff["hunter"][0]
    task = claims.task_claim(task=open_task(new_lead(client=prospect)), user=hunter)
    contact = prospect.contacts.get(name="Buyer")
    answers = [
        signed_in(hunter).get(_stage_url(task)),
        signed_in(hunter).get(f"/clients/{prospect.pk}/"),
        api_as(hunter).get(f"/api/tasks/{task.pk}/"),
        api_as(hunter).get(f"/api/clients/{prospect.pk}/"),
        api_as(hunter).post(f"/api/contacts/{contact.pk}/reveal/"),
        signed_in(hunter).post(f"/clients/{prospect.pk}/contacts/{contact.pk}/reveal/"),
    ]
    assert [a.status_code for a in answers] == [200] * 6
    assert all(a["Cache-Control"] == "no-store" for a in answers)


def test_the_export_is_a_post_and_a_formula_from_the_web_form_stays_text(staff):
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    Browser().post(
        "/leads/form/",
        {"company": '=HYPERLINK("http://evil.example","x")', "phone": "+7 900 123 45 67"},
    )
    assert signed_in(admin).get("/clients/export/").status_code == 405
    assert api_as(admin).get("/api/clients/export/").status_code == 405
    assert events(AuditEvent.Action.EXPORT) == 0

    body = b"".join(signed_in(admin).post("/clients/export/").streaming_content).decode()

    line = body.splitlines()[1]
    assert "'=HYPERLINK(" in line and ",=HYPERLINK" not in line
    assert "'+7 900 123 45 67" in line  # a phone starting with + is text too


def test_a_report_cell_that_looks_like_a_formula_is_text_in_the_xlsx_and_csv(monkeypatch):
    from openpyxl import load_workbook

    from salesflow.reports import exports

    table = exports.Table("people", "People", ["person", "amount"], [["=1+2", -5], ["@SUM(A1)", 3]])
    monkeypatch.setattr(exports, "report_tables", lambda report: [table])

    sheet = load_workbook(io.BytesIO(exports.report_xlsx(None)))["People"]
    cells = {cell.value: cell.data_type for row in sheet.iter_rows() for cell in row}
    assert cells["=1+2"] == "s" and cells["@SUM(A1)"] == "s" and cells[-5] == "n"
    text = exports.report_csv(None)
    assert "'=1+2,-5" in text and "'@SUM(A1)" in text


# --- 4. paths around the services -------------------------------------------------------------


@pytest.mark.parametrize("page", ["detail", "cancel", "undo", "revive"])
def test_viewflows_own_task_transitions_are_not_mounted(staff, new_lead, page):
    task = claims.task_claim(task=open_task(new_lead()), user=staff["hunter"][0])
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    before = (task.status, task.owner_id, AuditEvent.objects.count())
    for person in (admin, staff["team_lead"][0], staff["hunter"][0]):
        assert signed_in(person).get(_stage_url(task, page)).status_code == 404
        assert signed_in(person).post(_stage_url(task, page)).status_code == 404
    task.refresh_from_db()
    assert (task.status, task.owner_id, AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    "url",
    ["/conveyor/inbox/", "/conveyor/queue/", "/conveyor/archive/", "/conveyor/flows/",
     "/conveyor/tasks/", "/conveyor/queue/assign/", "/conveyor/inbox/unassign/",
     "/conveyor/{process}/", "/conveyor/{process}/cancel/", "/conveyor/{process}/chart/",
     "/conveyor/{process}/qualification/{gateway}/", "/conveyor/{process}/intake/{start}/detail/"],
)  # fmt: skip
def test_viewflows_lists_process_pages_and_bulk_actions_are_not_mounted(staff, new_lead, url):
    lead = new_lead()
    start = Task.objects.filter(process_id=lead.process_id).order_by("pk").first()
    target = url.format(process=lead.process_id, gateway=start.pk, start=start.pk)
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    before = AuditEvent.objects.count()
    assert signed_in(admin).get(target).status_code == 404
    assert signed_in(admin).post(target, {"pk": [start.pk]}).status_code == 404
    assert AuditEvent.objects.count() == before


def test_the_conveyor_front_page_is_its_chart_with_the_work_menu(staff, new_lead):
    task = claims.task_claim(task=open_task(new_lead()), user=staff["hunter"][0])
    front = signed_in(staff["document_clerk"][0]).get("/conveyor/")
    body = front.content.decode()
    assert front.status_code == 200 and "<svg" in body or "chart" in body
    assert f"#{task.pk}" not in body and "hunter1" not in body  # nobody's work listed
    assert signed_in(staff["hunter"][0]).get("/conveyor/chart/").status_code == 200
    page = signed_in(staff["hunter"][0]).get(_stage_url(task)).content.decode()
    for word in ("Dashboard", ">Inbox<", ">Queue<", ">Archive<"):
        assert word not in page
    assert "/work/pools/hunter/" in page and "Work" in page


def test_a_task_page_one_may_not_work_answers_403_and_changes_nothing(staff, new_lead):
    hunter, other, clerk = staff["hunter"][0], staff["hunter"][1], staff["document_clerk"][0]
    task = claims.task_claim(task=open_task(new_lead()), user=hunter)
    for person in (other, clerk):
        assert signed_in(person).get(_stage_url(task)).status_code == 403
        posted = signed_in(person).post(_stage_url(task), stage_post("qualify", acknowledge=False))
        assert posted.status_code == 403
    assert (
        f"Task #{task.pk} is not assigned to you."
        in signed_in(other).get(_stage_url(task)).content.decode()
    )
    task.refresh_from_db()
    assert (task.status, task.owner) == (STATUS.ASSIGNED, hunter)
    # a task's address sends the holder to work, a pool member to "take it", a lead to the card
    waiting = open_task(new_lead())
    index = f"/conveyor/{waiting.process_id}/qualify/{waiting.pk}/"
    assert signed_in(other).get(index)["Location"] == _stage_url(waiting, "assign")
    lead_view = signed_in(staff["team_lead"][0]).get(
        f"/conveyor/{task.process_id}/qualify/{task.pk}/"
    )
    assert lead_view["Location"].startswith("/clients/")
    assert signed_in(hunter).get(f"/conveyor/{task.process_id}/qualify/{task.pk}/")[
        "Location"
    ] == _stage_url(task)


# --- 5. offboarding authority ----------------------------------------------------------------


def test_only_an_admin_may_offboard_a_team_lead_or_an_admin(staff):
    lead_person, other_lead = staff["team_lead"]
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    for target in (other_lead, admin):
        with pytest.raises(
            NotPermitted, match="Only an admin may offboard a team lead or an admin"
        ):
            user_offboard(user=target, by=lead_person)
        page = signed_in(lead_person).post(
            "/work/console/offboard/", {"user": target.pk, "_confirm": "1"}
        )
        assert page.status_code == 403
        assert "Only an admin may offboard" in page.content.decode()
        target.refresh_from_db()
        assert target.is_active
    assert events(AuditEvent.Action.DEACTIVATE) == 0
    assert user_offboard(user=other_lead, by=admin).done
    assert user_offboard(user=staff["hunter"][0], by=lead_person).done  # a hunter: as before


# --- 6. every rule enforced twice -------------------------------------------------------------


def _account_manager_of(lead):
    done = Task.objects.filter(process_id=lead.process_id, status=STATUS.DONE)
    return done.get(owner__username__startswith="account").owner


def _person_with(user, *roles: str):
    for code in roles:
        user.groups.add(Group.objects.get(name=code))
    return type(user).objects.get(pk=user.pk)  # fresh: roles and permissions re-read


def test_separation_of_duties_is_checked_again_at_completion(staff, new_lead, driver):
    client = ClientFactory()
    first = new_lead(client=client)
    order = driver().advance_to(first.process_id, "prepare_order")
    manager = staff["account_manager"][0]
    claims.task_claim(task=order, user=manager)
    # the manager is also made a hunter and qualifies another deal of the same client
    manager = _person_with(manager, "hunter")
    second = claims.task_claim(task=open_task(new_lead(client=client)), user=manager)
    conveyor.stage_complete(
        task=second, user=manager, data=STAGE_DATA["qualify"], handoff=NOTES["qualify"]
    )
    before = AuditEvent.objects.count()

    with pytest.raises(SeparationOfDutiesViolated, match="a colleague must complete"):
        conveyor.stage_complete(
            task=order, user=manager, data=STAGE_DATA["prepare_order"],
            handoff=NOTES["prepare_order"], acknowledge=True,
        )  # fmt: skip
    order.refresh_from_db()
    assert order.status == STATUS.ASSIGNED and AuditEvent.objects.count() == before


def test_the_hunter_account_rule_holds_both_ways(staff, new_lead, driver):
    client = ClientFactory()
    lead = new_lead(client=client)
    driver().advance_to(lead.process_id, "documents")  # account1 prepared the order
    manager = _account_manager_of(lead)
    manager = _person_with(manager, "hunter")
    prospect_deal = open_task(new_lead(client=client))

    with pytest.raises(SeparationOfDutiesViolated, match="Prepare order"):
        claims.task_claim(task=prospect_deal, user=manager)
    assert Task.objects.get(pk=prospect_deal.pk).owner is None


def test_a_bounce_does_not_go_back_to_someone_who_lost_the_role(staff, new_lead, driver):
    lead = new_lead()
    documents = driver().advance_to(lead.process_id, "documents")
    manager = _account_manager_of(lead)
    manager.groups.remove(Group.objects.get(name="account_manager"))
    clerk = staff["document_clerk"][0]
    claims.task_claim(task=documents, user=clerk)

    conveyor.stage_bounce(
        task=documents, user=clerk, question={"question": "who signs it, please?"}
    )

    back = open_task(lead)
    assert back.flow_task.name == "prepare_order" and back.owner is None  # the pool answers


def test_a_person_with_two_roles_grants_only_the_stages_discount_limit(staff, new_lead, driver):
    lead = new_lead()
    order = driver().advance_to(lead.process_id, "prepare_order")
    both = _person_with(UserFactory(username="lead_and_manager"), "team_lead", "account_manager")
    claims.task_claim(task=order, user=both)
    data = {**STAGE_DATA["prepare_order"], "discount": "20"}  # a team lead's limit, not a manager's

    conveyor.stage_complete(
        task=order, user=both, data=data, handoff=NOTES["prepare_order"], acknowledge=True
    )

    lead.refresh_from_db()
    assert lead.order.discount == Decimal("20") and lead.order.discount_needs_approval
    approval = open_task(lead)
    assert approval.flow_task.name == "approve_discount"
    # ... and their own discount never approves itself, whatever the role files say
    with pytest.raises(SeparationOfDutiesViolated, match="Prepare order"):
        claims.task_claim(task=approval, user=both)
    with pytest.raises(SeparationOfDutiesViolated):
        task_reassign(task=approval, by=staff["team_lead"][0], to=both, reason="you do it")
    assert Task.objects.get(pk=approval.pk).owner is None


def test_an_approval_by_the_discounts_author_is_refused_without_a_role_file_rule(
    staff, new_lead, driver, tmp_path, settings
):
    import shutil

    from salesflow import roles as roles_module
    from salesflow.queues import rules

    for path in settings.SALESFLOW_ROLES_DIR.glob("*.toml"):
        text = path.read_text()
        if path.name == "team_lead.toml":  # no separation rule declared for the approval
            text = text.split("# Nobody approves")[0] + text.split('scope = "process"', 1)[1]
        (tmp_path / path.name).write_text(text)
    settings.SALESFLOW_ROLES_DIR = tmp_path
    caches = (roles_module.get_roles, roles_module.sla_for_node, rules._separation_sql)
    for cached in caches:
        cached.cache_clear()
    try:
        assert not roles_module.get_roles()["team_lead"].separation_of_duties
        lead = new_lead()
        order = driver().advance_to(lead.process_id, "prepare_order")
        both = _person_with(
            UserFactory(username="lead_and_manager"), "team_lead", "account_manager"
        )
        claims.task_claim(task=order, user=both)
        conveyor.stage_complete(
            task=order, user=both, data={**STAGE_DATA["prepare_order"], "discount": "15"},
            handoff=NOTES["prepare_order"], acknowledge=True,
        )  # fmt: skip
        with pytest.raises(SeparationOfDutiesViolated):
            claims.task_claim(task=open_task(lead), user=both)
    finally:
        for cached in caches:
            cached.cache_clear()
    shutil.rmtree(tmp_path, ignore_errors=True)


# --- 7. the audit trail and the admin ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_runtime_database_role_cannot_alter_the_audit_trail(staff):
    role = f"sf_runtime_{os.getpid()}"
    database = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")
        cursor.execute(f"CREATE ROLE {role} LOGIN")
    call_command("db_runtime_role", role, stdout=io.StringIO())
    AuditEvent.objects.create(action=AuditEvent.Action.CLAIM, reason="before")
    runtime = psycopg2.connect(
        dbname=database["NAME"], user=role, host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
    )  # fmt: skip
    runtime.autocommit = True
    try:
        with runtime.cursor() as cursor:
            cursor.execute(
                "INSERT INTO audit_auditevent (created, action, reason, data)"
                " VALUES (now(), 'claim', 'as runtime', '{}')"
            )
            cursor.execute("SELECT count(*) FROM audit_auditevent")
            assert cursor.fetchone()[0] == 2
            cursor.execute("UPDATE clients_client SET notes = 'fine' WHERE false")  # its work
            # the function the late-task index calls (targets migration 0002) is its to call:
            # finishing a task as this role maintains that index
            cursor.execute("SELECT salesflow_instant('2026-03-02T09:00:00+00:00')")
            assert cursor.fetchone()[0] == datetime(2026, 3, 2, 9, tzinfo=UTC)
            for statement in (
                "UPDATE audit_auditevent SET reason = 'rewritten'",
                "DELETE FROM audit_auditevent",
                "TRUNCATE audit_auditevent",
                "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only",
                "DROP TABLE audit_auditevent",
            ):
                with pytest.raises(psycopg2.Error) as refused:
                    cursor.execute(statement)
                assert refused.value.pgcode in ("42501",), statement  # insufficient privilege
        assert AuditEvent.objects.count() == 2
        assert set(AuditEvent.objects.values_list("reason", flat=True)) == {"before", "as runtime"}
    finally:
        runtime.close()
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


def test_the_runtime_role_statements_refuse_a_strange_name():
    with pytest.raises(ValueError, match="plain lower-case name"):
        runtime_role_statements(role="x; DROP TABLE audit_auditevent")
    with pytest.raises(CommandError, match="plain lower-case name"):
        call_command("db_runtime_role", "Bad-Name", stdout=io.StringIO())


def test_admin_edits_of_clients_and_group_membership_are_audit_events(staff, prospect):
    admin = UserFactory(username="boss", is_superuser=True, is_staff=True)
    browser = signed_in(admin)
    contact = prospect.contacts.get(name="Buyer")
    form = {
        "name": "Volga Pumps", "tax_number": TAX, "status": "prospect", "legal_name": "",
        "legal_address": "", "bank_details": "", "website": "", "notes": "",
        "created_0": "2026-01-01", "created_1": "10:00:00",
        "initial-created_0": "2026-01-01", "initial-created_1": "10:00:00",
        "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "1",
        "contacts-MIN_NUM_FORMS": "0", "contacts-MAX_NUM_FORMS": "1000",
        "contacts-0-id": contact.pk, "contacts-0-client": prospect.pk, "contacts-0-name": "Buyer",
        "contacts-0-position": "", "contacts-0-phone": "+7 900 111 22 33",
        "contacts-0-email": EMAIL, "contacts-0-is_decision_maker": "on",
    }  # fmt: skip
    changed = browser.post(f"/admin/clients/client/{prospect.pk}/change/", form)
    assert changed.status_code == 302, changed.content.decode()[:2000]
    event = AuditEvent.objects.get(action=AuditEvent.Action.ADMIN_CHANGE)
    assert (event.actor, event.client_id, event.data["model"]) == (
        admin,
        prospect.pk,
        "clients.Client",
    )
    assert "+7 900 111 22 33" not in str(event.data), event.data
    assert "Phone" in str(event.data["message"])

    hunter = staff["hunter"][0]
    user_form = browser.get(f"/admin/auth/user/{hunter.pk}/change/")
    assert user_form.status_code == 200
    data = {
        "username": hunter.username, "first_name": "", "last_name": "", "email": hunter.email,
        "is_active": "on", "groups": [Group.objects.get(name="team_lead").pk],
        "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00", "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "10:00:00",
    }  # fmt: skip
    assert browser.post(f"/admin/auth/user/{hunter.pk}/change/", data).status_code == 302
    membership = AuditEvent.objects.filter(action=AuditEvent.Action.ADMIN_CHANGE).first()
    assert membership.data["model"] == "auth.User" and "Groups" in str(membership.data["message"])


# --- 8. sign-in and tokens ------------------------------------------------------------------------


@override_settings(AXES_ENABLED=True)
def test_one_password_sprayed_over_many_usernames_locks_the_address(staff):
    sprayer = Browser(REMOTE_ADDR="10.0.0.9")
    names = [u.username for role in staff.values() for u in role]
    answers = [
        sprayer.post("/accounts/login/", {"username": name, "password": "Spring2026"}).status_code
        for name in names[:6]
    ]
    assert answers[:4] == [200] * 4 and 429 in answers[4:]
    # even a right password from that address is refused now
    right = sprayer.post("/accounts/login/", {"username": names[7], "password": "pw"})
    assert right.status_code == 429 and "_auth_user_id" not in sprayer.session


@override_settings(AXES_ENABLED=True)
def test_one_username_guessed_from_many_addresses_is_locked(staff):
    hunter = staff["hunter"][0]
    answers = [
        Browser(REMOTE_ADDR=f"10.1.0.{n}")
        .post("/accounts/login/", {"username": hunter.username, "password": "nope"})
        .status_code
        for n in range(6)
    ]
    assert answers[:4] == [200] * 4 and answers[-1] == 429
    elsewhere = Browser(REMOTE_ADDR="10.2.0.1")
    assert (
        elsewhere.post(
            "/accounts/login/", {"username": hunter.username, "password": "pw"}
        ).status_code
        == 429
    )


@override_settings(SALESFLOW_PASSWORD_RESET_RATE="2/h")
def test_password_resets_are_throttled_per_address_and_per_email(staff):
    from django.core.cache import cache

    cache.clear()
    hunter = staff["hunter"][0]
    browser = Browser(REMOTE_ADDR="10.3.0.1")
    answers = [
        browser.post("/accounts/password_reset/", {"email": hunter.email}).status_code
        for _ in range(3)
    ]
    assert answers == [302, 302, 429]
    assert len(mail.outbox) == 2
    other = Browser(REMOTE_ADDR="10.3.0.2")  # another address, the same e-mail
    refused = other.post("/accounts/password_reset/", {"email": hunter.email})
    assert refused.status_code == 429 and "Too many password resets" in refused.content.decode()
    assert len(mail.outbox) == 2
    cache.clear()


def test_api_tokens_are_stored_as_digests_expire_and_rotate(staff):
    integration = staff["hunter"][0]

    def new_token() -> str:
        out = io.StringIO()
        call_command("api_token", integration.username, stdout=out, stderr=io.StringIO())
        return out.getvalue().strip()

    def answers(token: str) -> int:
        client = Browser(HTTP_AUTHORIZATION=f"Token {token}")
        return client.get("/api/tasks/inbox/").status_code

    first = new_token()
    stored = AuthToken.objects.get(user=integration)
    assert first not in (stored.digest, stored.token_key) and len(stored.digest) == 128
    assert answers(first) == 200
    # rotation: a new token next to the old one, then the older ones revoked
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        second = new_token()
    assert answers(first) == answers(second) == 200
    call_command("api_token", integration.username, "--revoke-older", stdout=io.StringIO())
    assert (answers(first), answers(second)) == (401, 200)
    changes = AuditEvent.objects.filter(action=AuditEvent.Action.ADMIN_CHANGE, to_user=integration)
    assert changes.count() == 3  # two made, one revocation
    with time_machine.travel(timezone.now() + timedelta(days=91)):
        assert answers(second) == 401  # expired
    with pytest.raises(CommandError, match="no user"):
        call_command("api_token", "nobody", stdout=io.StringIO())


# --- 9. the development defaults stay on this machine ------------------------------------------


def test_the_development_defaults_refuse_another_machine(settings):
    settings.SALESFLOW_ENV_EXPLICIT = False
    refusal = development_defaults_refusal(where="the bind address", host="0.0.0.0")
    assert refusal and "SALESFLOW_ENV is not set" in refusal and "0.0.0.0" in refusal
    assert development_defaults_refusal(where="the bind address", host="127.0.0.1") is None
    assert development_defaults_refusal(where="x", host="unix:") is None
    settings.SALESFLOW_ENV_EXPLICIT = True  # SALESFLOW_ENV=development said on purpose
    assert development_defaults_refusal(where="the bind address", host="0.0.0.0") is None

    assert bind_hosts(["gunicorn", "-b", "0.0.0.0:8000", "salesflow.wsgi"], {}) == ["0.0.0.0"]
    assert bind_hosts(["gunicorn", "--bind=127.0.0.1:9"], {"GUNICORN_CMD_ARGS": "-b :80"}) == [
        "127.0.0.1", "0.0.0.0",
    ]  # fmt: skip
    with pytest.raises(CommandError, match="SALESFLOW_ENV is not set"):
        settings.SALESFLOW_ENV_EXPLICIT = False
        call_command("run", "--host", "0.0.0.0")


def test_a_request_from_another_machine_is_refused_under_the_development_defaults(settings):
    settings.SALESFLOW_ENV_EXPLICIT = False
    answered = []

    def app(environ, start_response):
        answered.append(environ["REMOTE_ADDR"])
        start_response("200 OK", [])
        return [b"ok"]

    guard = DevelopmentDefaultsGuard(app)
    statuses = []
    body = guard({"REMOTE_ADDR": "203.0.113.5"}, lambda status, headers: statuses.append(status))
    assert statuses == ["503 Service Unavailable"] and b"SALESFLOW_ENV is not set" in b"".join(body)
    guard({"REMOTE_ADDR": "127.0.0.1"}, lambda status, headers: statuses.append(status))
    assert answered == ["127.0.0.1"]


def test_gunicorn_bound_to_every_address_refuses_to_start_without_salesflow_env(tmp_path):
    env = {
        k: v for k, v in os.environ.items() if k not in ("SALESFLOW_ENV", "DJANGO_SETTINGS_MODULE")
    }
    env.update(SALESFLOW_VAR_DIR=str(tmp_path))
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    done = subprocess.run(
        [gunicorn, "-b", "0.0.0.0:0", "--workers", "1", "--timeout", "20", "salesflow.wsgi"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "SALESFLOW_ENV is not set" in done.stderr


# --- done when: no masked value reaches anyone not entitled -----------------------------------


@pytest.mark.parametrize("who", ["holder", "hunter", "account_manager", "document_clerk",
                                 "expeditor", "team_lead", "admin"])  # fmt: skip
def test_a_walk_of_every_page_and_answer_shows_no_contact_to_anyone_who_did_not_ask(
    staff, new_lead, who, caplog, django_capture_on_commit_callbacks
):
    from salesflow.queues.stalled import stalled_scan
    from salesflow.reports.services import daily_report_build

    from .test_clients import starts_for, walk

    client = ClientFactory(name="Secret Works", tax_number="7709876543")
    ContactFactory(client=client, name="Buyer", phone=PHONE, email=EMAIL)
    with time_machine.travel(timezone.now() - timedelta(days=2), tick=True):
        new_lead(client=client)  # an older deal: yesterday's report and the stalled scan have it
    daily_report_build(day=timezone.localdate() - timedelta(days=1))
    held = claims.task_claim(task=open_task(new_lead(client=client)), user=staff["hunter"][0])
    user = {
        "holder": staff["hunter"][0],
        "admin": UserFactory(username="boss", is_superuser=True, is_staff=True),
    }.get(who) or staff[who][1]
    caplog.set_level("DEBUG")

    with django_capture_on_commit_callbacks(execute=True):
        pages = walk(signed_in(user), [*starts_for(client), _stage_url(held)])
        answers = walk(api_as(user), [u for u in starts_for(client) if u.startswith("/api/")])
        exported = signed_in(user).post("/clients/export/")
        stalled_scan(now=timezone.now() + timedelta(days=5))  # the team leads' e-mail

    assert len(pages) > 15
    assert [url for url, body in {**pages, **answers}.items() if leaks(body)] == []
    if who == "admin":  # the export permission is the one entitlement to the whole base
        assert exported.status_code == 200
    else:
        assert exported.status_code == 403 and not leaks(exported.content.decode())
    assert mail.outbox and not any(leaks(m.subject + m.body) for m in mail.outbox)
    assert not leaks(caplog.text)
    assert events(AuditEvent.Action.REVEAL) == 0  # nobody asked, nothing was shown


def test_the_admin_cannot_change_or_delete_a_task_or_a_process(staff, new_lead):
    task = claims.task_claim(task=open_task(new_lead()), user=staff["hunter"][0])
    admin = signed_in(UserFactory(username="boss", is_superuser=True, is_staff=True))
    permission = task.owner_permission
    assert admin.get(f"/admin/viewflow/task/{task.pk}/change/").status_code == 200  # to read
    admin.post(f"/admin/viewflow/task/{task.pk}/change/", {"owner_permission": "", "data": "{}"})
    assert admin.post(f"/admin/viewflow/task/{task.pk}/delete/", {"post": "yes"}).status_code == 403
    assert (
        admin.post(
            f"/admin/viewflow/process/{task.process_id}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    task.refresh_from_db()
    assert task.owner_permission == permission and task.owner == staff["hunter"][0]
