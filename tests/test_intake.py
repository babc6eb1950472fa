"""The intake: every channel's lead normalised, matched against the client base and routed
-- a new company to the hunters, a known customer to the account pool, a probable
duplicate to a team lead -- and the channels themselves: the public web form, the page
where a person enters a lead, the file import."""

from __future__ import annotations

import threading
from io import StringIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client as Browser
from django.test import override_settings
from viewflow.workflow.models import Task

from salesflow.audit.models import AuditEvent
from salesflow.clients import normalize
from salesflow.clients.models import Client, Contact, DuplicateReview, Lead
from salesflow.clients.selectors import MatchKind
from salesflow.exceptions import ClaimConflict, NotPermitted
from salesflow.intake.services import (
    LeadData,
    duplicate_keep_apart,
    duplicate_merge,
    lead_receive,
)

from .conftest import open_task
from .factories import ClientFactory, ContactFactory

# --- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["8 (900) 123-45-67", "+7 900 123 45 67", "79001234567", "9001234567", "+7(900)1234567"],
)
def test_a_russian_phone_in_any_format_has_one_key(typed):
    assert normalize.phone_key(typed) == "79001234567"


def test_a_foreign_phone_keeps_its_country_code():
    assert normalize.phone_key("+44 20 7946 0958") == "442079460958"
    assert normalize.phone_key("+1 (212) 555-0100") == "12125550100"


def test_what_is_not_a_phone_number_still_matches_itself_by_its_digits():
    assert normalize.phone_key("12-34") == "1234"
    assert normalize.phone_key("") == ""


def test_an_email_ignores_case_and_blanks():
    assert normalize.email_key("  Ivan.Petrov@Volga.EXAMPLE ") == "ivan.petrov@volga.example"


@pytest.mark.parametrize(
    "name,key",
    [
        ('"Volga Pumps" LLC', "volga pumps"),
        ("VOLGA PUMPS, Ltd.", "volga pumps"),
        ("Volga-Pumps L.L.C.", "volga pumps"),
        ("ООО «Ромашка»", "ромашка"),
        ("Общество с ограниченной ответственностью «Ромашка»", "ромашка"),
        ("АО Ёлка", "елка"),
        ("ООО", "ооо"),  # nothing but a legal form keeps it
    ],
)
def test_a_company_name_drops_legal_form_quotes_case_and_punctuation(name, key):
    assert normalize.name_key(name) == key


def test_a_tax_number_is_its_digits():
    assert normalize.tax_key(" 7701-234 567 ") == "7701234567"


def test_keys_are_stored_on_save_and_with_the_fields_they_derive_from(db):
    client = ClientFactory(name='"Volga Pumps" LLC', tax_number="7701 234 567")
    contact = ContactFactory(client=client, phone="8 900 123 45 67", email="A@B.example")
    assert (client.name_key, client.tax_key) == ("volga pumps", "7701234567")
    assert (contact.phone_key, contact.email_key) == ("79001234567", "a@b.example")

    contact.phone = "+7 900 000 00 01"
    contact.save(update_fields=["phone"])  # the key follows even in a partial save
    contact.refresh_from_db()
    assert contact.phone_key == "79000000001"


# --- matching and routing ----------------------------------------------------------------------


def data(**values) -> LeadData:
    values.setdefault("company", "Neva Textiles")
    values.setdefault("phone", "+7 911 555 00 11")
    return LeadData(**values)


@pytest.fixture
def customer(db):
    client = ClientFactory(
        name="Volga Pumps LLC", tax_number="7701234567", status=Client.Status.CUSTOMER
    )
    ContactFactory(client=client, name="Ivan", phone="+7 900 123 45 67", email="ivan@volga.example")
    return client


def test_a_new_company_becomes_a_client_and_waits_for_a_hunter(db):
    result = lead_receive(
        data=data(contact_name="Olga", email="olga@neva.example"), source="web_form"
    )

    assert result.outcome == MatchKind.NEW_CLIENT
    assert result.client.name == "Neva Textiles"
    assert result.lead.contact.email == "olga@neva.example"
    assert open_task(result.lead).flow_task.name == "qualify"


@pytest.mark.parametrize(
    "given,matched_by",
    [
        ({"phone": "8 (900) 123-45-67"}, "phone"),
        ({"phone": "", "email": " IVAN@volga.example"}, "e-mail"),
        ({"phone": "", "email": "new@volga.example", "tax_number": "77 0123 4567"}, "tax"),
    ],
)
def test_a_known_customer_in_another_spelling_goes_to_the_account_pool_never_to_a_hunter(
    customer, given, matched_by
):
    result = lead_receive(
        data=data(company="Volga Pumpen GmbH", **given), source=Lead.Source.WEB_FORM
    )

    assert result.outcome == MatchKind.EXISTING_CLIENT
    assert result.client == customer
    assert matched_by in result.reason
    assert Client.objects.count() == 1
    lead = result.lead
    assert lead.source == Lead.Source.REPEAT_ORDER
    assert lead.source_detail == "Web form"  # where it came from
    assert open_task(lead).flow_task.name == "prepare_order"  # the account pool


def test_a_new_person_at_a_known_client_becomes_its_contact(customer):
    result = lead_receive(
        data=data(company="x", tax_number="7701234567", contact_name="Anna", phone="+7 900 5"),
        source="api",
    )
    assert result.client == customer
    assert result.lead.contact.name == "Anna"
    assert customer.contacts.count() == 2


def test_the_known_contact_is_reused_not_duplicated(customer):
    result = lead_receive(data=data(phone="+79001234567"), source="api")
    assert result.lead.contact.name == "Ivan"
    assert Contact.objects.count() == 1


def test_a_known_prospect_is_matched_and_qualified_again_by_the_hunters(db):
    prospect = ClientFactory(name="Kama Tyres")
    ContactFactory(client=prospect, phone="+7 843 200 00 00")
    result = lead_receive(data=data(company="Kama", phone="8 843 200-00-00"), source="web_form")
    assert result.client == prospect
    assert open_task(result.lead).flow_task.name == "qualify"
    assert Client.objects.count() == 1


def test_a_second_lead_of_a_client_with_an_open_deal_joins_it_and_its_holder_is_told(
    staff, django_capture_on_commit_callbacks
):
    """Issue 12 (5): no second deal beside the open one -- the lead joins it, a JOIN event
    on its current task, the request on the task's page, the holder e-mailed."""
    from django.core import mail

    from salesflow.queues import claims

    prospect = ClientFactory(name="Kama Tyres")
    ContactFactory(client=prospect, phone="+7 843 200 00 00")
    first = lead_receive(
        data=data(company="Kama", phone="8 843 200-00-00", request="tyres for 20 trucks"),
        source="web_form",
    ).lead
    task = open_task(first)
    hunter = staff["hunter"][0]
    hunter.email = "hunter1@firm.example"
    hunter.save()
    claims.task_claim(task=task, user=hunter)
    mail.outbox = []

    with django_capture_on_commit_callbacks(execute=True):
        second = lead_receive(
            data=data(company="Kama", phone="+7 843 200 00 00", request="and winter tyres too"),
            source="api",
        )

    lead = second.lead
    assert (lead.status, lead.joined, lead.process_id) == ("joined", first, None)
    assert not second.started
    assert Lead.objects.filter(client=prospect, process__isnull=False).count() == 1
    event = AuditEvent.objects.get(action="join")
    assert (event.task, event.client_id, event.reason) == (
        task,
        prospect.pk,
        "and winter tyres too",
    )
    assert [m.to for m in mail.outbox] == [["hunter1@firm.example"]]
    assert f"deal #{first.pk}" in mail.outbox[0].subject
    page = Browser()
    page.force_login(hunter)
    answer = page.get(f"/conveyor/{task.process_id}/{task.flow_task.name}/{task.pk}/execute/")
    assert answer.status_code == 200 and "and winter tyres too" in answer.content.decode()


def test_a_lead_asking_for_another_order_after_the_order_was_prepared_starts_its_own_deal(
    new_lead, driver
):
    first = new_lead(request="twenty pumps")
    driver().advance_to(first.process_id, "documents")  # the order is prepared and handed on
    contact = first.client.contacts.get()
    again = lead_receive(
        data=data(company=first.client.name, phone=contact.phone, request="twenty pumps"),
        source="api",
    )
    assert again.lead.joined == first  # the same request: the same inquiry
    other = lead_receive(
        data=data(company=first.client.name, phone=contact.phone, request="a boiler room"),
        source="api",
    )
    assert other.lead.joined is None and other.started  # clearly another order
    assert Lead.objects.filter(client=first.client, process__isnull=False).count() == 2


@pytest.mark.parametrize(
    "company",
    ['"Volga Pumps" Ltd', "VOLGA PUMPS", "Volga Pump"],  # same key, then similar
)
def test_a_similar_name_without_a_hard_match_waits_for_a_person(customer, company):
    result = lead_receive(data=data(company=company), source="web_form")

    assert result.outcome == MatchKind.PROBABLE_DUPLICATE
    assert result.lead.process_id is None  # in nobody's pool
    review = DuplicateReview.objects.get()
    assert review.candidate == customer and review.client == result.client
    assert "Volga Pumps LLC" in review.reason
    assert not Task.objects.filter(flow_task_type="HUMAN").exists()


def test_a_different_tax_number_tells_similarly_named_companies_apart(customer):
    result = lead_receive(data=data(company="Volga Pumping", tax_number="5001234567"), source="api")
    assert result.outcome == MatchKind.NEW_CLIENT


def test_the_very_same_name_is_a_probable_duplicate_even_under_another_tax_number(customer):
    """Issue 12 (3): a mistyped INN must not make the same company twice unnoticed."""
    result = lead_receive(data=data(company="Volga Pumps", tax_number="5001234567"), source="api")
    assert result.outcome == MatchKind.PROBABLE_DUPLICATE
    review = DuplicateReview.objects.get()
    assert review.candidate == customer
    assert review.reason == "the same name as Volga Pumps LLC, but a different tax number"


@pytest.mark.parametrize(
    "typed",
    [
        "7707083893",  # an organisation's 10 digits
        "500100732259",  # a person's 12
        "7707\u00a0083\u00a0893",  # grouped by a spreadsheet with no-break spaces
        "5001\u202f0073\u202f2259",  # narrow no-break spaces
        " 7707-083 893\t",
    ],
)
def test_an_inn_with_right_check_digits_is_taken_in_any_spacing(typed):
    from salesflow.intake.forms import LeadForm

    form = LeadForm(
        data={"company": "Volga Pumps", "phone": "+7 900 123 45 67", "tax_number": typed}
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tax_number"] == normalize.tax_key(typed)


@pytest.mark.parametrize(
    "typed,message",
    [
        ("7707083894", "This INN's check digit does not match its other digits"),
        ("500100732258", "This INN's check digit does not match its other digits"),
        ("500100732269", "This INN's check digit does not match its other digits"),
        ("77070838931", "An INN has 10 digits (an organisation) or 12 (a person), not 11."),
        ("770708389", "not 9."),
        ("77O7083893", "Enter the tax number as digits"),
        ("７７０７０８３８９３", "Enter the tax number as digits"),  # full-width digits
    ],
)
def test_an_inn_with_wrong_check_digits_or_length_is_refused_with_the_reason(typed, message):
    from salesflow.intake.forms import LeadForm

    form = LeadForm(
        data={"company": "Volga Pumps", "phone": "+7 900 123 45 67", "tax_number": typed}
    )
    assert not form.is_valid()
    assert message in form.errors["tax_number"][0]


@pytest.mark.django_db
def test_an_imported_row_with_a_wrong_inn_is_refused_by_its_line(tmp_path):
    path = tmp_path / "inn.csv"
    path.write_text(
        "Company;Phone;INN\n"
        "Volga Pumps;+7 900 111 22 33;7707083894\n"
        "Oka Glass;+7 900 333 44 55;7707\u00a0083\u00a0893\n",
        encoding="utf-8",
    )
    out, code = import_leads(path)
    assert code == 1
    assert "line 2: tax_number: This INN's check digit does not match" in out
    assert Client.objects.get().tax_key == "7707083893"


def test_different_numbers_in_similar_names_are_different_companies(db):
    ClientFactory(name="Stroy-Trest 1")
    result = lead_receive(data=data(company="Stroy-Trest 2"), source="api")
    assert result.outcome == MatchKind.NEW_CLIENT


def test_a_phone_shared_by_two_clients_is_for_a_person_to_decide(db):
    for name in ("Alpha", "Beta"):
        ContactFactory(client=ClientFactory(name=name), phone="+7 900 777 00 00")
    result = lead_receive(data=data(company="Gamma", phone="89007770000"), source="api")
    assert result.outcome == MatchKind.PROBABLE_DUPLICATE
    assert "1 other clients" in result.review.reason  # the team lead's to read
    assert "Alpha" not in result.reason and "Beta" not in result.reason  # not the submitter's


def test_the_same_phone_with_another_tax_number_is_for_a_person_to_decide(customer):
    result = lead_receive(
        data=data(company="Volga Service", phone="+7 900 123 45 67", tax_number="5001234567"),
        source="api",
    )
    assert result.outcome == MatchKind.PROBABLE_DUPLICATE
    assert "different tax number" in result.review.reason
    assert (
        result.reason == "a phone or e-mail the client base already has; a team lead checks whose"
    )


def test_merged_clients_are_not_matched_again(customer):
    ghost = ClientFactory(name="Old Volga", merged_into=customer)
    ContactFactory(client=ghost, phone="+7 999 000 00 00")
    result = lead_receive(data=data(company="Totally New", phone="+7 999 000 00 00"), source="api")
    assert result.outcome == MatchKind.NEW_CLIENT


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_leads_of_one_new_company_make_one_client():
    barrier = threading.Barrier(2)
    results, errors = [], []

    def submit():
        try:
            barrier.wait(timeout=10)
            results.append(
                lead_receive(data=data(company="Oka Glass", tax_number="6201234567"), source="api")
            )
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert Client.objects.count() == 1
    assert sorted(r.outcome for r in results) == [MatchKind.EXISTING_CLIENT, MatchKind.NEW_CLIENT]


# --- probable duplicates: merge or keep apart ------------------------------------------------


@pytest.fixture
def held(customer):
    result = lead_receive(
        data=data(company="Volga Pumps", contact_name="Pyotr", phone="+7 900 765 43 21",
                  email="pyotr@volga.example", tax_number=""),
        source="web_form",
    )  # fmt: skip
    assert result.outcome == MatchKind.PROBABLE_DUPLICATE
    return result.review


def test_merging_moves_the_lead_and_its_contact_and_starts_it_as_the_known_clients(
    held, customer, staff
):
    lead = duplicate_merge(review_id=held.pk, user=staff["team_lead"][0], reason="same INN")

    assert lead.client == customer
    assert customer.contacts.filter(name="Pyotr").exists()
    assert open_task(lead).flow_task.name == "prepare_order"  # a customer: account pool
    new = Client.objects.get(pk=held.client_id)
    assert new.merged_into == customer
    held.refresh_from_db()
    assert held.decision == DuplicateReview.Decision.MERGED
    event = AuditEvent.objects.get(action=AuditEvent.Action.MERGE)
    assert event.actor == staff["team_lead"][0] and event.client == customer
    assert event.reason == "same INN" and event.data["merged_client"] == new.pk


def test_keeping_apart_starts_the_lead_as_a_new_clients_with_the_hunters(held, staff):
    lead = duplicate_keep_apart(review_id=held.pk, user=staff["team_lead"][0])

    assert lead.client_id == held.client_id
    assert open_task(lead).flow_task.name == "qualify"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.SPLIT, client=lead.client).exists()


@pytest.mark.parametrize("decide", [duplicate_merge, duplicate_keep_apart])
def test_only_a_team_lead_decides_and_a_refusal_changes_nothing(held, staff, decide):
    with pytest.raises(NotPermitted, match="Only a team lead"):
        decide(review_id=held.pk, user=staff["hunter"][0])
    held.refresh_from_db()
    assert held.decided is None and held.lead.process_id is None
    assert not AuditEvent.objects.filter(action__in=["merge", "split"]).exists()


def test_a_decision_is_taken_once(held, staff):
    duplicate_keep_apart(review_id=held.pk, user=staff["team_lead"][0])
    with pytest.raises(ClaimConflict, match="already decided"):
        duplicate_merge(review_id=held.pk, user=staff["team_lead"][1])
    assert Client.objects.get(pk=held.client_id).merged_into is None
    assert AuditEvent.objects.filter(action__in=["merge", "split"]).count() == 1


def signed_in(user) -> Browser:
    browser = Browser()
    assert browser.login(username=user.username, password="pw")
    return browser


@pytest.mark.parametrize("who,status", [("anonymous", 302), ("hunter", 403), ("team_lead", 200)])
def test_the_merge_screen_is_for_team_leads(held, staff, who, status):
    browser = Browser() if who == "anonymous" else signed_in(staff[who][0])
    assert browser.get("/clients/duplicates/").status_code == status
    decided = browser.post(f"/clients/duplicates/{held.pk}/decide/", {"action": "merge"})
    held.refresh_from_db()
    if who == "team_lead":
        assert decided.status_code == 302 and held.decision == "merged"
    else:
        assert held.decided is None


def test_the_merge_screen_shows_both_sides_masked_with_the_reason(held, staff):
    body = signed_in(staff["team_lead"][0]).get("/clients/duplicates/").content.decode()
    assert "the same name as Volga Pumps LLC" in body
    assert "+7 ••• •••-••-21" in body and "+7 900 765 43 21" not in body


# --- the public web form -----------------------------------------------------------------------

FORM = {
    "company": "Altai Honey",
    "contact_name": "Maria",
    "phone": "+7 913 000 11 22",
    "email": "maria@altai.example",
    "request": "two tonnes of honey a month",
}


@pytest.fixture
def web():
    cache.clear()  # the rate limit counts in the cache
    yield Browser(enforce_csrf_checks=True)
    cache.clear()


def post_form(browser: Browser, values: dict, address: str = "203.0.113.7"):
    page = browser.get("/leads/form/", REMOTE_ADDR=address)
    token = page.cookies["csrftoken"].value
    return browser.post(
        "/leads/form/", {**values, "csrfmiddlewaretoken": token}, REMOTE_ADDR=address
    )


@pytest.mark.django_db
def test_a_visitor_leaves_a_request_and_lands_on_the_thank_you_page(web):
    page = web.get("/leads/form/")
    assert page.status_code == 200
    assert 'name="website"' in page.content.decode()  # the honeypot is there

    response = post_form(web, FORM)

    assert response.status_code == 302 and response["Location"] == "/leads/form/thanks/"
    assert "Thank you!" in web.get(response["Location"]).content.decode()
    lead = Lead.objects.get()
    assert lead.source == Lead.Source.WEB_FORM and lead.client.name == "Altai Honey"
    assert open_task(lead).flow_task.name == "qualify"


@pytest.mark.django_db
def test_the_form_refuses_a_post_without_its_csrf_token(web):
    response = web.post("/leads/form/", FORM)
    assert response.status_code == 403
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_a_bot_filling_the_honeypot_sees_thanks_and_writes_nothing(web):
    response = post_form(web, {**FORM, "website": "http://spam.example"})
    assert response["Location"] == "/leads/form/thanks/"
    assert not Client.objects.exists() and not Lead.objects.exists()


@pytest.mark.django_db
def test_the_form_says_what_is_missing_and_writes_nothing(web):
    response = post_form(web, {"company": "Altai Honey", "phone": "", "email": ""})
    assert response.status_code == 400
    assert "Leave a phone number or an e-mail" in response.content.decode()
    response = post_form(web, {**FORM, "phone": "12"})
    assert "Enter a phone number with its area code" in response.content.decode()
    assert not Lead.objects.exists()


@pytest.mark.django_db
@override_settings(SALESFLOW_WEB_FORM_RATE="3/h")
def test_the_form_is_limited_per_address(web):
    for n in range(3):
        assert post_form(web, {**FORM, "phone": f"+7 913 000 11 2{n}"}).status_code == 302
    limited = post_form(web, {**FORM, "phone": "+7 913 000 11 29"})
    assert limited.status_code == 429
    assert "try again in an hour" in limited.content.decode()
    assert Lead.objects.count() == 3
    # another address is not affected
    assert post_form(web, FORM, address="198.51.100.1").status_code == 302


@pytest.mark.django_db
def test_the_limit_is_counted_in_redis_shared_by_every_worker(web, redis_url):
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": redis_url, "KEY_PREFIX": "salesflow-test-ratelimit"}
    }  # fmt: skip
    with override_settings(CACHES=caches, SALESFLOW_WEB_FORM_RATE="2/h"):
        from django.core.cache import caches as handler

        handler["default"].clear()
        try:
            first, second = Browser(enforce_csrf_checks=True), Browser(enforce_csrf_checks=True)
            assert post_form(first, FORM).status_code == 302
            assert post_form(second, {**FORM, "phone": "+7 913 000 11 23"}).status_code == 302
            # a "different worker" (another client, another cache connection): still counted
            handler["default"].close()
            assert post_form(first, {**FORM, "phone": "+7 913 000 11 24"}).status_code == 429
        finally:
            handler["default"].clear()


# --- a person enters a lead ------------------------------------------------------------------


@pytest.mark.parametrize("who,status", [("anonymous", 302), ("expeditor", 403), ("hunter", 302)])
def test_entering_a_lead_needs_the_permission(staff, who, status):
    browser = Browser() if who == "anonymous" else signed_in(staff[who][0])
    response = browser.post("/clients/leads/new/", FORM)
    assert response.status_code == status
    if who == "hunter":
        lead = Lead.objects.get()
        assert lead.source == Lead.Source.MANUAL and lead.created_by == staff["hunter"][0]
        assert response["Location"] == f"/clients/{lead.client_id}/"
    else:
        assert not Lead.objects.exists()


def test_the_lead_page_says_where_a_known_customers_lead_went(staff, customer):
    browser = signed_in(staff["hunter"][0])
    response = browser.post(
        "/clients/leads/new/", {**FORM, "phone": "8 900 123 45 67"}, follow=True
    )
    assert "A known customer" in response.content.decode()
    assert "went to the account managers" in response.content.decode()


# --- the file import ---------------------------------------------------------------------------

CSV = (
    "Company;Contact;Phone;E-mail;INN;Request\n"
    "Volga Pumps LLC;Ivan;8 900 111-22-33;ivan@volga.example;7701234560;pumps\n"
    ";Nobody;+7 900 1;x@;;\n"
    '"ООО «Ромашка»";Olga;+7 495 123 45 67;;;"flowers,\nmany"\n'
    "VOLGA PUMPS;Petr;+7 900 111 22 33;;;more pumps\n"
    "Extra Co;Anna;+7 495 000 00 01;;;x;surplus\n"
)


def import_leads(path: Path, *flags: str) -> tuple[str, int]:
    out = StringIO()
    try:
        call_command("import", "leads", str(path), *flags, stdout=out, stderr=StringIO())
    except CommandError as error:
        return out.getvalue(), error.returncode
    return out.getvalue(), 0


@pytest.fixture
def csv_file(tmp_path) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


@pytest.mark.django_db
def test_an_import_takes_the_good_rows_and_reports_each_bad_one_by_line(csv_file):
    out, code = import_leads(csv_file)

    assert code == 1  # a script notices the rejected rows
    assert "line 3: company: This field is required." in out
    assert "Enter a phone number with its area code" in out
    assert "line 7: more values than the header has columns: surplus" in out  # 6: quoted \n
    assert "Imported 3 of 5 rows: 2 new clients, 1 known clients" in out
    assert Lead.objects.filter(source=Lead.Source.IMPORT).count() == 3
    assert Client.objects.count() == 2  # VOLGA PUMPS matched by its phone
    assert set(Lead.objects.values_list("source_detail", flat=True)) == {"leads.csv"}


@pytest.mark.django_db
def test_a_cell_over_the_limits_rejects_its_row_by_line_and_field_and_the_rest_imports(
    tmp_path,
):
    """Issue 12 (2): a cell over 128 KB (csv's own field limit) is no traceback: its row is
    rejected with its line and the field that is too long; the other rows import."""
    huge = "x" * 200_000
    path = tmp_path / "big.csv"
    path.write_text(
        "Company;Phone;Request\n"
        "Volga Pumps;+7 900 111 22 33;pumps\n"
        f'Kama Tyres;+7 900 222 33 44;"{huge}"\n'
        f"{'K' * 300};+7 900 222 33 55;{huge}\n"
        "Oka Glass;+7 900 333 44 55;glass\n",
        encoding="utf-8",
    )
    out, code = import_leads(path)

    assert code == 1
    assert "line 3: request: Ensure this value has at most 5000 characters (it has 200000)." in out
    assert "line 4: company: Ensure this value has at most 200 characters (it has 300)" in out
    assert "line 4: " in out and "request: Ensure this value has at most 5000" in out
    assert "Imported 2 of 4 rows" in out
    assert set(Client.objects.values_list("name", flat=True)) == {"Volga Pumps", "Oka Glass"}
    assert len(out) < 2000  # the refused value is not echoed back
    import csv

    assert csv.field_size_limit() == 131072  # the reader's limit is put back


@pytest.mark.django_db
def test_a_dry_run_reports_the_same_and_writes_nothing(csv_file):
    out, code = import_leads(csv_file, "--dry-run")
    assert "Would import 3 of 5 rows: 2 new clients, 1 known clients" in out
    assert "Dry run: nothing was written." in out
    assert not Client.objects.exists() and not Lead.objects.exists()
    assert not Task.objects.exists()


@pytest.mark.django_db
def test_an_import_of_an_xlsx_file(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Компания", "Телефон", "ИНН"])
    sheet.append(["Baltic Foods", 79110001122, 7801234564])  # numeric cells
    sheet.append(["", "", ""])  # blank rows are skipped
    sheet.append(["Don Agro", "not a phone", ""])
    book.save(tmp_path / "leads.xlsx")

    out, code = import_leads(tmp_path / "leads.xlsx")

    assert "line 4: phone: Enter a phone number" in out and code == 1
    client = Client.objects.get()
    assert client.tax_key == "7801234564" and client.contacts.get().phone_key == "79110001122"


@pytest.mark.django_db
def test_a_formula_cell_in_an_xlsx_file_is_a_row_error_that_says_so(tmp_path):
    """Issue 12 (4): a formula with no stored value is not an empty field, and ``=1/0``
    is not an empty request: the row is refused, naming the field and the formula."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Company", "Phone", "E-mail", "Request"])
    sheet.append(["Baltic Foods", "=B4", "buyer@baltic.example", "pumps"])
    sheet.append(["Don Agro", "+7 900 111 22 33", "", "=1/0"])
    sheet.append(["Oka Glass", "+7 900 333 44 55", "", "glass"])
    sheet.append(['=UPPER("x")', "", "", ""])
    book.save(tmp_path / "formulas.xlsx")

    out, code = import_leads(tmp_path / "formulas.xlsx")

    assert code == 1
    assert "line 2: phone: the cell is a formula (=B4), not a value" in out
    assert "line 3: request: the cell is a formula (=1/0), not a value" in out
    assert 'line 5: company: the cell is a formula (=UPPER("x"))' in out
    assert "paste it as values" in out
    assert "Leave a phone number or an e-mail" not in out
    assert "Imported 1 of 4 rows" in out
    assert Client.objects.get().name == "Oka Glass"
    assert not Lead.objects.filter(request="").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content,message",
    [
        ("Company;Fax\nX;1\n", "unknown columns Fax"),
        ("Phone\n+7 900 000 00 00\n", "no 'company' column"),
        ("", "the file is empty"),
    ],
)
def test_a_file_that_cannot_be_imported_is_refused_whole(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CommandError, match=message):
        call_command("import", "leads", str(path), stdout=StringIO(), stderr=StringIO())
    assert not Lead.objects.exists()


@pytest.mark.django_db
def test_a_windows_1251_file_with_semicolons_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("Компания;Телефон\nООО Ромашка;+7 495 111 22 33\n".encode("cp1251"))
    out, code = import_leads(path)
    assert code == 0 and Client.objects.get().name == "ООО Ромашка"


def test_the_command_answers_to_salesflow_import(tmp_path):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "salesflow.cli", "import", "leads", "--help"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "--dry-run" in result.stdout


@pytest.mark.django_db
def test_the_web_form_speaks_russian(web):
    web.cookies["django_language"] = "ru"
    assert "Оставить заявку" in web.get("/leads/form/").content.decode()
    response = post_form(web, {"company": "Ромашка", "phone": "", "email": ""})
    assert "Оставьте телефон или эл. почту" in response.content.decode()
