"""The public web form: the only pages anyone may open without signing in."""

from django.urls import path

from . import views

urlpatterns = [
    path("form/", views.web_form, name="web_form"),
    path("form/thanks/", views.web_form_thanks, name="web_form_thanks"),
]
