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
