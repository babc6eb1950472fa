"""factory_boy factories for the engine's models."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from salesflow.clients.models import Client, Contact


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """``UserFactory(roles=["hunter"])`` puts the user in the roles' groups."""
        for code in extracted or ():
            self.groups.add(Group.objects.get(name=code))
        self.save()


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n} LLC")
    legal_address = factory.Sequence(lambda n: f"{n} Factory Road, Tver")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"Person {n}")
    phone = factory.Sequence(lambda n: f"+7 900 {n:07d}")
    email = factory.Sequence(lambda n: f"person{n}@client.example")
    is_decision_maker = True
