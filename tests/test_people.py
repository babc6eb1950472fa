"""People are shown by name, told apart by username where two share one."""

import pytest

from salesflow.people import display_name, display_names

from .factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_name_two_people_share_carries_each_ones_username():
    first = UserFactory(username="apetrova", first_name="Anna", last_name="Petrova")
    second = UserFactory(username="apetrova2", first_name="Anna", last_name="Petrova")
    alone = UserFactory(username="isidorov", first_name="Ivan", last_name="Sidorov")
    nameless = UserFactory(username="robot", first_name="", last_name="")

    assert display_names([first, second, alone, nameless]) == {
        first.pk: "Anna Petrova (apetrova)",
        second.pk: "Anna Petrova (apetrova2)",
        alone.pk: "Ivan Sidorov",
        nameless.pk: "robot",
    }
    assert display_name(alone) == "Ivan Sidorov" and display_name(None) == ""


# --- the same name on every page -----------------------------------------------------------


def _name(user, first: str, last: str) -> None:
    user.first_name, user.last_name = first, last
    user.save(update_fields=["first_name", "last_name"])


def test_notes_console_reassign_and_messages_name_people_the_same_way(staff, new_lead, driver):
    from viewflow.workflow.models import Task

    from salesflow.queues import claims

    from .conftest import open_task
    from .test_http import signed_in, urls

    hunter, other_hunter = staff["hunter"]
    manager = staff["account_manager"][0]
    _name(hunter, "Anna", "Petrova")
    _name(other_hunter, "Anna", "Petrova")  # namesakes: told apart by username
    _name(manager, "Ivan", "Sidorov")
    lead = new_lead()
    task = driver().advance_to(lead.process_id, "prepare_order")
    note_author = Task.objects.get(
        process_id=lead.process_id, flow_task_type="HUMAN", status="DONE"
    )
    author = display_name(note_author.owner)
    assert author in {
        f"Anna Petrova ({hunter.username})",
        f"Anna Petrova ({other_hunter.username})",
    }
    browser = signed_in(manager)
    browser.post(urls(task)["assign"])

    page = browser.get(urls(task)["execute"]).content.decode()
    assert f"· {author}" in page  # the note's author
    refused = browser.post(urls(task)["execute"], {"action": "complete"}).content.decode()
    assert f"Read the handoff note from {author}" in refused  # the message
    browser.post(urls(task)["execute"], {"action": "acknowledge"})
    assert "read by Ivan Sidorov" in browser.get(urls(task)["execute"]).content.decode()

    waiting = open_task(new_lead())
    claims.task_claim(task=waiting, user=other_hunter)
    lead_browser = signed_in(staff["team_lead"][0])
    console = lead_browser.get("/work/console/").content.decode()
    assert f"Anna Petrova ({other_hunter.username})" in console  # the owner column
    reassign = lead_browser.post("/work/console/reassign/", {"pk": [waiting.pk]}).content.decode()
    assert f"<td>Anna Petrova ({other_hunter.username})</td>" in reassign
    assert ">Ivan Sidorov</option>" in reassign  # the picker
