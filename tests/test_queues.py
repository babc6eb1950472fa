"""Pools: due dates and priorities, claim-next, distribution policies, WIP limits,
absences, stalled work, reassignment and offboarding -- and each of their refusals."""

from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from flows.simulation import Odds
from salesflow.audit.models import AuditEvent
from salesflow.clients.models import Client, Lead
from salesflow.conveyor import services
from salesflow.exceptions import (
    ClaimConflict,
    NotPermitted,
    SalesflowError,
    SeparationOfDutiesViolated,
    WipLimitReached,
)
from salesflow.queues import claims, distribution, moves, rules, stalled
from salesflow.queues.models import Absence
from salesflow.queues.terms import (
    HANDOUT,
    Priority,
    StallReason,
    Terms,
    set_terms,
    stamp,
    terms_of,
)

from .conftest import open_task
from .factories import ClientFactory, UserFactory

pytestmark = pytest.mark.django_db


def terms(task) -> Terms:
    """A task's terms in its pool, as stored now."""
    return terms_of(Task.objects.get(pk=task.pk))


def mark(task, **values) -> None:
    """Set a task's terms (times as the engine stores them)."""
    stamped = {k: stamp(v) if isinstance(v, datetime) else v for k, v in values.items()}
    set_terms(Task.objects.filter(pk=task.pk), **stamped)


NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.get_fixed_timezone(0))


@time_machine.travel(NOW, tick=False)
def test_a_new_lead_waits_for_the_hunters_due_within_their_sla(new_lead):
    task = open_task(new_lead())
    item = terms(task)
    assert item.due == NOW + timedelta(days=1)  # roles/hunter.toml: qualify sla = "1d"
    assert item.priority == Priority.NORMAL
    assert item.stalled is None


def test_a_known_client_comes_back_to_the_account_pool_with_high_priority(new_lead):
    client = ClientFactory(status=Client.Status.CUSTOMER)
    lead = new_lead(client=client, source=Lead.Source.WEB_FORM)
    task = open_task(lead)
    assert task.flow_task.name == "prepare_order"
    assert terms(task).priority == Priority.HIGH


def test_work_sent_back_is_high_priority(new_lead, driver):
    lead = new_lead()
    simulator = driver()
    simulator.send_back(simulator.advance_to(lead.process_id, "prepare_order"))
    back = open_task(lead)
    assert back.flow_task.name == "qualify"
    assert terms(back).priority == Priority.HIGH


def test_a_discount_approval_is_urgent(new_lead, driver):
    lead = new_lead()
    task = driver(Odds(0, 0, 1, 0, 0)).advance_to(lead.process_id, "approve_discount")
    assert terms(task).priority == Priority.URGENT


def _deliver_by(promised: date, driver, new_lead, staff):
    lead = new_lead()
    simulator = driver()
    task = simulator.advance_to(lead.process_id, "prepare_order")
    manager = next(
        u for u in staff["account_manager"] if rules.assignment_refusal(task=task, user=u) is None
    )
    claims.task_claim(task=task, user=manager)
    data = {**simulator.data_prepare_order(task), "delivery_date": promised.isoformat()}
    note = simulator.note(task.flow_task.handoff, task)
    services.stage_complete(task=task, user=manager, data=data, handoff=note, acknowledge=True)
    return terms(simulator.advance_to(lead.process_id, "delivery"))


@time_machine.travel(NOW, tick=False)
def test_a_delivery_promised_sooner_than_the_sla_is_due_on_the_promised_day(
    driver, new_lead, staff
):
    item = _deliver_by(NOW.date() + timedelta(days=1), driver, new_lead, staff)
    promised_evening = timezone.make_aware(
        datetime.combine(NOW.date() + timedelta(days=1), time(18))
    )
    assert item.due == promised_evening  # sooner than the expeditor's 3 days


@time_machine.travel(NOW, tick=False)
def test_a_delivery_promised_later_than_the_sla_keeps_the_sla(driver, new_lead, staff):
    item = _deliver_by(NOW.date() + timedelta(days=30), driver, new_lead, staff)
    assert item.due == NOW + timedelta(days=3)


# --- claim next -------------------------------------------------------------------------


def _pool(new_lead, count: int) -> list:
    return [open_task(new_lead()) for _ in range(count)]


def test_claim_next_gives_the_most_urgent_task_first(new_lead, staff):
    normal_late, normal_soon, high = _pool(new_lead, 3)
    now = timezone.now()
    mark(normal_late, due=now + timedelta(hours=9))
    mark(normal_soon, due=now + timedelta(hours=2))
    mark(high, due=now + timedelta(hours=20), priority=Priority.HIGH)
    hunter = staff["hunter"][0]

    taken = [claims.task_claim_next(user=hunter) for _ in range(3)]

    assert [t.pk for t in taken] == [high.pk, normal_soon.pk, normal_late.pk]
    assert all(t.owner == hunter and t.status == STATUS.ASSIGNED for t in taken)
    assert claims.task_claim_next(user=hunter) is None
    claim_events = AuditEvent.objects.filter(action="claim", actor=hunter, data__next=True)
    assert claim_events.count() == 3


def test_claim_next_passes_over_a_task_a_separation_rule_keeps_from_the_person(
    new_lead, staff, driver
):
    both = staff["hunter"][0]
    both.groups.add(staff["account_manager"][0].groups.get())
    mine, other = new_lead(), new_lead()
    for lead, qualifier in ((mine, both), (other, staff["hunter"][1])):
        task = open_task(lead)
        claims.task_claim(task=task, user=qualifier)
        services.stage_complete(
            task=task,
            user=qualifier,
            data={"outcome": "qualified"},
            handoff=driver().note(task.flow_task.handoff, task),
        )
    mark(open_task(mine), priority=Priority.URGENT)

    taken = claims.task_claim_next(user=both, role="account_manager")

    assert taken.process_id == other.process_id  # not the one they qualified themselves
    assert open_task(mine).owner_id is None
    assert claims.task_claim_next(user=both, role="account_manager") is None


def test_claim_next_for_a_role_the_person_does_not_hold_is_refused(new_lead, staff):
    _pool(new_lead, 1)
    with pytest.raises(NotPermitted, match="do not hold the role"):
        claims.task_claim_next(user=staff["hunter"][0], role="expeditor")
    with pytest.raises(NotPermitted, match="no role with a pool"):
        claims.task_claim_next(user=UserFactory())
    assert not AuditEvent.objects.filter(action="claim").exists()


def test_the_wip_limit_stops_claims_and_says_why(new_lead, staff):
    hunter = staff["hunter"][0]  # roles/hunter.toml: wip_limit = 5
    tasks = _pool(new_lead, 6)
    for task in tasks[:5]:
        claims.task_claim(task=task, user=hunter)

    with pytest.raises(WipLimitReached, match="already hold 5 open tasks"):
        claims.task_claim(task=tasks[5], user=hunter)
    with pytest.raises(WipLimitReached):
        claims.task_claim_next(user=hunter)
    tasks[5].refresh_from_db()
    assert tasks[5].owner_id is None
    assert AuditEvent.objects.filter(action="claim", actor=hunter).count() == 5


# --- distribution policies --------------------------------------------------------------


def _to_documents(lead, simulator, django_capture_on_commit_callbacks):
    """Carry a lead to the documents stage; the hand-outs after each commit run."""
    with django_capture_on_commit_callbacks(execute=True):
        simulator.advance_to(lead.process_id, "prepare_order")
        return simulator.advance_to(lead.process_id, "documents")


def test_round_robin_hands_documents_to_each_clerk_in_turn(
    new_lead, driver, staff, django_capture_on_commit_callbacks
):
    simulator = driver()
    owners = []
    for _ in range(4):
        task = _to_documents(new_lead(), simulator, django_capture_on_commit_callbacks)
        task.refresh_from_db()
        owners.append(task.owner)
    first, second = staff["document_clerk"]
    assert owners == [first, second, first, second]
    assigned = AuditEvent.objects.filter(action="assign", actor=None, to_user=first)
    assert assigned.count() == 2


def test_least_loaded_gives_the_order_to_the_manager_with_less_work(
    new_lead, driver, staff, django_capture_on_commit_callbacks
):
    busy, free = staff["account_manager"]
    simulator = driver()
    for lead in (new_lead(), new_lead()):
        task = simulator.advance_to(lead.process_id, "prepare_order")
        claims.task_claim(task=task, user=busy)

    lead = new_lead()
    with django_capture_on_commit_callbacks(execute=True):
        task = simulator.advance_to(lead.process_id, "prepare_order")
    task.refresh_from_db()
    assert task.owner == free


def test_people_who_are_away_inactive_or_full_are_skipped(
    new_lead, driver, staff, django_capture_on_commit_callbacks
):
    away, inactive = staff["account_manager"]
    Absence.objects.create(
        user=away, starts=timezone.localdate(), ends=timezone.localdate() + timedelta(days=3)
    )
    inactive.is_active = False
    inactive.save()
    lead = new_lead()
    with django_capture_on_commit_callbacks(execute=True):
        task = driver().advance_to(lead.process_id, "prepare_order")
    task.refresh_from_db()
    assert task.owner_id is None and task.status == STATUS.NEW  # waits for a claim

    back = UserFactory(roles=["account_manager"])
    assert distribution.task_auto_assign(task_id=task.pk) == back
    assert distribution.task_auto_assign(task_id=task.pk) is None  # idempotent: already given


# --- hand-outs the broker never delivered ---------------------------------------------------


def _handout_due(task) -> bool:
    return HANDOUT in Task.objects.get(pk=task.pk).data


def test_a_new_task_of_a_distributing_pool_is_marked_until_its_hand_out_is_tried(
    new_lead, driver, staff, django_capture_on_commit_callbacks
):
    lead = new_lead()
    assert not _handout_due(open_task(lead))  # the hunters pull their work
    with django_capture_on_commit_callbacks(execute=False) as jobs:
        task = driver().advance_to(lead.process_id, "prepare_order")
    assert len(jobs) == 1 and _handout_due(task)

    person = distribution.task_auto_assign(task_id=task.pk)

    assert person in staff["account_manager"] and not _handout_due(task)


def test_a_completion_stands_when_the_broker_cannot_take_the_hand_out(
    new_lead, driver, staff, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from salesflow.queues.tasks import auto_assign

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(auto_assign, "delay", broker_down)
    lead = new_lead()
    with django_capture_on_commit_callbacks(execute=True):
        task = driver().advance_to(lead.process_id, "prepare_order")  # no exception

    task.refresh_from_db()
    assert task.owner_id is None and _handout_due(task)
    assert "the pool's sweep will hand it out" in caplog.text
    assert distribution.handouts_sweep() == []  # within the grace: the normal job may still come
    with time_machine.travel(timezone.now() + distribution.HANDOUT_GRACE + timedelta(seconds=1)):
        assert distribution.handouts_sweep() == [task.pk]
        assert distribution.handouts_sweep() == []  # tried once
    task.refresh_from_db()
    assert task.owner in staff["account_manager"] and not _handout_due(task)
    assert AuditEvent.objects.filter(action="assign", actor=None, task=task).count() == 1


def test_a_task_its_owner_returns_is_handed_out_again_to_someone_else(
    new_lead, driver, staff, django_capture_on_commit_callbacks
):
    lead = new_lead()
    documents = driver().advance_to(lead.process_id, "documents")
    clerk = staff["document_clerk"][0]
    claims.task_claim(task=documents, user=clerk)
    services.stage_bounce(
        task=documents, user=clerk, question={"question": "which entity signs the contract?"}
    )
    back = open_task(lead)  # straight to its earlier performer, who is in a distributing pool
    returned_by = back.owner
    assert returned_by is not None

    with django_capture_on_commit_callbacks(execute=True):
        claims.task_unassign(task=back, user=returned_by, reason="on holiday from tomorrow")

    back.refresh_from_db()
    other = next(m for m in staff["account_manager"] if m != returned_by)
    assert back.owner == other and back.status == STATUS.ASSIGNED  # not back to the returner
    assert not _handout_due(back)
    assert AuditEvent.objects.filter(action="assign", actor=None, task=back, to_user=other).exists()


def test_a_returned_task_the_broker_never_handed_out_is_found_by_the_sweep(new_lead, driver, staff):
    lead = new_lead()
    documents = driver().advance_to(lead.process_id, "documents")
    clerk = staff["document_clerk"][0]
    claims.task_claim(task=documents, user=clerk)
    services.stage_bounce(
        task=documents, user=clerk, question={"question": "which entity signs the contract?"}
    )
    back = open_task(lead)
    returned_by = back.owner

    claims.task_unassign(task=back, user=returned_by, reason="on holiday")  # no commit: no job

    back.refresh_from_db()
    assert back.owner_id is None and _handout_due(back)
    assert distribution.handouts_sweep(grace=timedelta(0)) == [back.pk]
    back.refresh_from_db()
    assert back.owner is not None and back.owner != returned_by
    assert distribution.handouts_sweep(grace=timedelta(0)) == []  # tried once


def test_a_hand_out_with_nobody_available_is_tried_once_and_left_for_a_claim(
    new_lead, driver, staff, django_capture_on_commit_callbacks
):
    for manager in staff["account_manager"]:
        manager.is_active = False
        manager.save(update_fields=["is_active"])
    lead = new_lead()
    with django_capture_on_commit_callbacks(execute=True):
        task = driver().advance_to(lead.process_id, "prepare_order")

    assert not _handout_due(task)  # tried: nobody to give it to
    UserFactory(username="newcomer", roles=["account_manager"])
    with time_machine.travel(timezone.now() + distribution.HANDOUT_GRACE * 2):
        assert distribution.handouts_sweep() == []
    task.refresh_from_db()
    assert task.owner_id is None


def test_the_sweep_is_scheduled_every_minute(db):
    from django_celery_beat.models import PeriodicTask

    job = PeriodicTask.objects.get(name="queues: hand out waiting tasks")
    assert job.task == "salesflow.queues.tasks.hand_out_waiting"
    assert job.interval.every == 60 and job.enabled


# --- stalled work -----------------------------------------------------------------------


@pytest.fixture
def team_lead_mailbox(staff):
    for lead in staff["team_lead"]:
        lead.email = f"{lead.username}@example.com"
        lead.save()
    return sorted(lead.email for lead in staff["team_lead"])


def test_a_task_past_its_sla_is_marked_once_and_the_team_leads_told_once(
    new_lead, staff, team_lead_mailbox, django_capture_on_commit_callbacks
):
    with time_machine.travel(NOW, tick=False):
        late = open_task(new_lead())
    with time_machine.travel(NOW + timedelta(hours=23), tick=False):
        fresh = open_task(new_lead())

    with time_machine.travel(NOW + timedelta(days=1, minutes=1), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            assert stalled.stalled_scan() == [late.pk]
        with django_capture_on_commit_callbacks(execute=True):
            assert stalled.stalled_scan() == []  # again: nothing new, nobody told twice

    item = terms(late)
    assert item.stalled == NOW + timedelta(days=1, minutes=1)
    assert item.stalled_reason == StallReason.SLA
    assert terms(fresh).stalled is None
    assert AuditEvent.objects.filter(action="stalled", task=late).count() == 1
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == team_lead_mailbox
    assert f"#{late.pk} Qualify" in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_a_scan_that_finds_rows_locked_retries_instead_of_succeeding_empty(new_lead, staff):
    """Issue 12 (7b): a killed worker's session can still hold row locks when Celery
    re-queues its scan: the re-run marks what it can, and is retried for the rest rather
    than acknowledged with 0 (the work would wait for the next scan)."""
    from salesflow.queues.tasks import scan_stalled

    from .procs import holding

    with time_machine.travel(NOW, tick=False):
        held, free = _pool(new_lead, 2)
    later = NOW + timedelta(days=1, minutes=1)
    with time_machine.travel(later, tick=False):
        with holding(f"SELECT 1 FROM viewflow_task WHERE id = {held.pk} FOR UPDATE"):
            with pytest.raises(stalled.StalledRowsLocked) as raised:
                stalled.stalled_scan(retry_if_locked=True)
            assert raised.value.count == 1
            assert terms(free).stalled is not None  # what it could mark is committed
            assert terms(held).stalled is None
            # the job is not done: it fails with the locked rows, and a failure of that kind
            # is retried later (with backoff), not acknowledged as a success
            with pytest.raises(stalled.StalledRowsLocked, match="locked by another transaction"):
                scan_stalled.run()
            assert stalled.StalledRowsLocked in scan_stalled.autoretry_for
            assert stalled.stalled_scan() == []  # without asking: skipped silently, as before
        assert scan_stalled.apply().get() == 1  # the lock is gone: the retry marks it
    assert terms(held).stalled == later
    assert AuditEvent.objects.filter(action="stalled").count() == 2


def test_the_stalled_notice_is_recorded_before_it_is_sent_and_sent_once(
    new_lead, staff, team_lead_mailbox
):
    """Issue 12 (7a): the job run again (its worker killed after the mail server took the
    message) finds the outbox row and does not send twice; a send whose outcome nobody saw
    is left for an admin; a server that refused is retried."""
    from django.test import override_settings

    from salesflow.models import Notification

    task = open_task(new_lead())
    assert stalled.stalled_notify(task_ids=[task.pk]) == 2
    assert stalled.stalled_notify(task_ids=[task.pk]) == 0  # re-delivered: not again
    assert len(mail.outbox) == 1
    sent = Notification.objects.get()
    assert sent.sent is not None and sent.attempted <= sent.sent
    assert f"#{task.pk} Qualify" in sent.body and sorted(sent.recipients) == team_lead_mailbox

    other = open_task(new_lead())
    refusing = override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=9,  # nothing listens: refused before anything was accepted
        EMAIL_TIMEOUT=5,
    )
    with refusing, pytest.raises(OSError):
        stalled.stalled_notify(task_ids=[other.pk])
    refused = Notification.objects.exclude(pk=sent.pk).get()
    assert (refused.attempted, refused.sent) == (None, None)  # the retry may send it
    assert stalled.stalled_notify(task_ids=[other.pk]) == 2
    assert len(mail.outbox) == 2

    third = open_task(new_lead())
    Notification.objects.create(  # what a worker killed while talking to the server leaves
        key=_stalled_key([third.pk]), subject="s", body="b", recipients=team_lead_mailbox,
        attempted=timezone.now(),
    )  # fmt: skip
    assert stalled.stalled_notify(task_ids=[third.pk]) == 0
    assert len(mail.outbox) == 2


def _stalled_key(ids):
    import hashlib

    return "stalled:" + hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()


def test_an_assigned_task_untouched_past_the_idle_limit_is_stalled(new_lead, staff):
    hunter = staff["hunter"][0]  # roles/hunter.toml: idle_limit = "4h", sla = "1d"
    with time_machine.travel(NOW, tick=False):
        idle, busy = _pool(new_lead, 2)
        claims.task_claim(task=idle, user=hunter)
        claims.task_claim(task=busy, user=hunter)
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        claims.task_touch(task=busy, user=hunter)
        claims.task_touch(task=idle, user=staff["hunter"][1])  # not theirs: no touch

    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        assert stalled.stalled_scan() == [idle.pk]
    assert terms(idle).stalled_reason == StallReason.IDLE


def test_reassigning_an_idle_task_clears_its_stall(new_lead, staff):
    hunter, colleague = staff["hunter"]
    with time_machine.travel(NOW, tick=False):
        task = open_task(new_lead())
        claims.task_claim(task=task, user=hunter)
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        stalled.stalled_scan()
        moves.task_reassign(
            task=task, by=staff["team_lead"][0], to=colleague, reason="hunter1 is swamped"
        )
    item = terms(task)
    assert item.stalled is None and item.stalled_reason == ""


def test_stalled_notice_without_team_lead_addresses_sends_nothing(new_lead, staff):
    for lead in staff["team_lead"]:
        lead.email = ""
        lead.save()
    task = open_task(new_lead())
    assert stalled.stalled_notify(task_ids=[task.pk]) == 0
    assert mail.outbox == []


# --- reassignment -----------------------------------------------------------------------


def test_a_team_lead_moves_a_task_with_a_reason_and_it_is_audited(new_lead, staff):
    hunter, colleague = staff["hunter"]
    lead_user = staff["team_lead"][0]
    task = open_task(new_lead())
    claims.task_claim(task=task, user=hunter)

    moves.task_reassign(task=task, by=lead_user, to=colleague, reason="hunter1 is on a call")
    task.refresh_from_db()
    assert task.owner == colleague and task.status == STATUS.ASSIGNED

    moves.task_reassign(task=task, by=lead_user, to=None, reason="anyone can take it")
    task.refresh_from_db()
    assert task.owner_id is None and task.status == STATUS.NEW

    move_events = AuditEvent.objects.filter(action="reassign", task=task).order_by("id")
    assert [(m.from_user, m.to_user, m.actor, m.reason) for m in move_events] == [
        (hunter, colleague, lead_user, "hunter1 is on a call"),
        (colleague, None, lead_user, "anyone can take it"),
    ]


def _refused_move(task, *, by, to, reason, error, match):
    before = (task.owner_id, task.status)
    with pytest.raises(error, match=match):
        moves.task_reassign(task=task, by=by, to=to, reason=reason)
    task.refresh_from_db()
    assert (task.owner_id, task.status) == before
    assert not AuditEvent.objects.filter(action="reassign", task=task).exists()


def test_only_a_team_lead_may_move_work(new_lead, staff):
    task = open_task(new_lead())
    _refused_move(
        task, by=staff["hunter"][1], to=staff["hunter"][0], reason="mine now",
        error=NotPermitted, match="Only a team lead",
    )  # fmt: skip


def test_a_move_without_a_reason_is_refused(new_lead, staff):
    task = open_task(new_lead())
    _refused_move(
        task, by=staff["team_lead"][0], to=staff["hunter"][0], reason="  ",
        error=SalesflowError, match="Say why",
    )  # fmt: skip


def test_a_move_to_someone_without_the_role_is_refused(new_lead, staff):
    task = open_task(new_lead())
    _refused_move(
        task, by=staff["team_lead"][0], to=staff["expeditor"][0], reason="help out",
        error=NotPermitted, match="expeditor1 has no role that performs “Qualify”",
    )  # fmt: skip


def test_a_move_to_someone_away_is_refused(new_lead, staff):
    away = staff["hunter"][0]
    Absence.objects.create(user=away, starts=timezone.localdate(), ends=timezone.localdate())
    task = open_task(new_lead())
    _refused_move(
        task, by=staff["team_lead"][0], to=away, reason="please",
        error=NotPermitted, match="away today",
    )  # fmt: skip


def test_a_move_across_a_separation_rule_is_refused(new_lead, staff, driver):
    both = staff["hunter"][0]
    both.groups.add(staff["account_manager"][0].groups.get())
    lead = new_lead()
    task = open_task(lead)
    claims.task_claim(task=task, user=both)
    services.stage_complete(
        task=task, user=both, data={"outcome": "qualified"},
        handoff=driver().note(task.flow_task.handoff, task),
    )  # fmt: skip
    _refused_move(
        open_task(lead), by=staff["team_lead"][0], to=both, reason="knows the client",
        error=SeparationOfDutiesViolated, match="hunter1 performed “Qualify”",
    )  # fmt: skip


def test_a_move_to_someone_at_their_limit_is_refused(new_lead, staff):
    full = staff["hunter"][0]
    for task in _pool(new_lead, 5):
        claims.task_claim(task=task, user=full)
    task = open_task(new_lead())
    _refused_move(
        task, by=staff["team_lead"][0], to=full, reason="more work",
        error=WipLimitReached, match="already holds 5 open tasks",
    )  # fmt: skip


def test_moving_a_selection_is_all_or_nothing(new_lead, staff):
    hunter = staff["hunter"][1]
    tasks = _pool(new_lead, 3)
    claims.task_claim(task=tasks[2], user=hunter)  # already theirs: this one is refused
    with pytest.raises(ClaimConflict, match="already hunter2's"):
        moves.tasks_reassign(tasks=tasks, by=staff["team_lead"][0], to=hunter, reason="go")
    for task in tasks[:2]:
        task.refresh_from_db()
        assert task.owner_id is None
    assert not AuditEvent.objects.filter(action="reassign").exists()


# --- offboarding ------------------------------------------------------------------------


def _holding(new_lead, person, count):
    tasks = _pool(new_lead, count)
    for task in tasks:
        claims.task_claim(task=task, user=person)
    return tasks


def test_offboarding_preview_changes_nothing(new_lead, staff):
    leaving = staff["hunter"][0]
    tasks = _holding(new_lead, leaving, 2)
    plan = moves.user_offboard(user=leaving, by=staff["team_lead"][0], dry_run=True)
    assert sorted(t.pk for t in plan.tasks) == sorted(t.pk for t in tasks)
    assert plan.ok and not plan.done
    leaving.refresh_from_db()
    assert leaving.is_active
    assert all(
        t.owner_id == leaving.pk for t in (Task.objects.filter(pk__in=[x.pk for x in tasks]))
    )


def test_offboarding_returns_every_open_task_and_deactivates(new_lead, staff):
    leaving, lead_user = staff["hunter"][0], staff["team_lead"][0]
    tasks = _holding(new_lead, leaving, 3)

    plan = moves.user_offboard(user=leaving, by=lead_user)

    assert plan.done and len(plan.tasks) == 3
    leaving.refresh_from_db()
    assert not leaving.is_active
    for task in tasks:
        task.refresh_from_db()
        assert task.owner_id is None and task.status == STATUS.NEW
    move_events = AuditEvent.objects.filter(action="reassign", from_user=leaving, actor=lead_user)
    assert move_events.count() == 3
    assert AuditEvent.objects.filter(action="deactivate", from_user=leaving).count() == 1


def test_offboarding_to_a_colleague_who_cannot_take_the_work_moves_nothing(new_lead, staff):
    leaving = staff["hunter"][0]
    tasks = _holding(new_lead, leaving, 2)
    with pytest.raises(NotPermitted, match="nothing was moved"):
        moves.user_offboard(user=leaving, by=staff["team_lead"][0], to=staff["expeditor"][0])
    leaving.refresh_from_db()
    assert leaving.is_active
    for task in tasks:
        task.refresh_from_db()
        assert task.owner == leaving
    assert not AuditEvent.objects.filter(action__in=["reassign", "deactivate"]).exists()


def test_offboarding_to_a_colleague_gives_them_the_work(new_lead, staff):
    leaving, colleague = staff["hunter"]
    tasks = _holding(new_lead, leaving, 2)
    moves.user_offboard(user=leaving, by=staff["team_lead"][0], to=colleague)
    assert {t.owner_id for t in Task.objects.filter(pk__in=[t.pk for t in tasks])} == {colleague.pk}


def test_a_person_holding_work_cannot_be_deleted(new_lead, staff):
    hunter = staff["hunter"][0]
    (task,) = _holding(new_lead, hunter, 1)
    with pytest.raises(ProtectedError):
        hunter.delete()
    assert Task.objects.filter(pk=task.pk, owner=hunter).exists()


def test_a_person_with_tasks_but_no_history_cannot_be_deleted_either(new_lead, staff):
    """viewflow's own assignment writes no audit event; the guard still holds."""
    task = open_task(new_lead())
    stranger = UserFactory()
    Task.objects.filter(pk=task.pk).update(owner=stranger, status=STATUS.ASSIGNED)
    with pytest.raises(ProtectedError, match="deactivate them instead"), transaction.atomic():
        stranger.delete()
    assert Task.objects.filter(pk=task.pk).exists()
