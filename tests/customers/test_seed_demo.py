import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers import demo_steps, roles
from customers.demo_data import DEMO_PASSWORD
from customers.models import Contact, Customer, Interaction, Task, Team
from customers.normalize import normalize_name, normalize_phone

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(autouse=True)
def _customers_only(monkeypatch):
    """These tests are about the customers part of seed_demo; the other apps' demo steps have their own."""
    monkeypatch.setattr(demo_steps, "_registry", {})


def seed(**options):
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def fingerprint():
    """What a person would compare between two seeded databases: the customers and who owns them."""
    rows = Customer.objects.select_related("owner", "referred_by").prefetch_related("tags").order_by("external_ref")
    return [
        (
            c.external_ref,
            c.kind,
            c.name,
            c.phone,
            c.email,
            c.region,
            c.city,
            c.category,
            c.owner.username if c.owner else None,
            c.referred_by.external_ref if c.referred_by else None,
            sorted(t.name for t in c.tags.all()),
            c.interactions.count(),
        )
        for c in rows
    ]


def test_seed_creates_demo_users_with_their_roles_and_the_sales_team():
    output = seed(customers=60)

    users = {u.username: u for u in get_user_model().objects.prefetch_related("groups")}
    expected = {
        "admin": {roles.ADMIN},
        "manager": {roles.MANAGER},
        "salesmgr": {roles.SALES_MANAGER},
        "sales1": {roles.SALES_REP},
        "sales2": {roles.SALES_REP},
        "service1": {roles.SERVICE_AGENT},
        "marketing1": {roles.MARKETING},
    }
    for username, role_names in expected.items():
        assert {g.name for g in users[username].groups.all()} == role_names, username
        assert CJK.search(users[username].get_full_name()), "Chinese name"
        assert re.search(r"[A-Za-z]{2,}", users[username].get_full_name()), "English name"
        assert username in output
    assert users["admin"].is_superuser and users["admin"].is_staff
    assert not users["sales1"].is_superuser
    team = Team.objects.get(manager=users["salesmgr"])
    assert {u.username for u in team.members.all()} == {"sales1", "sales2"}
    assert DEMO_PASSWORD in output


def test_demo_password_logs_every_demo_user_in(client):
    seed(customers=0)

    for username in ("admin", "manager", "salesmgr", "sales1", "sales2", "service1", "marketing1"):
        response = client.post(reverse("login"), {"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 302, username
        assert client.session.get("_auth_user_id") == str(get_user_model().objects.get(username=username).pk)
        client.logout()


def test_rerunning_resets_the_demo_password_and_keeps_one_user_each(client):
    seed(customers=0)
    teams = Team.objects.count()
    sales1 = get_user_model().objects.get(username="sales1")
    sales1.set_password("something-else-entirely")
    sales1.save()

    seed(customers=0)

    assert get_user_model().objects.filter(username="sales1").count() == 1
    assert get_user_model().objects.get(username="sales1").check_password(DEMO_PASSWORD)
    assert Team.objects.count() == teams


def test_same_seed_gives_the_same_customers_and_another_seed_different_ones():
    seed(customers=60, seed=7)
    first = fingerprint()
    Customer.objects.all().delete()

    seed(customers=60, seed=7)
    again = fingerprint()
    Customer.objects.all().delete()

    seed(customers=60, seed=8)
    other = fingerprint()

    assert len(first) == 60
    assert again == first
    assert [row[2] for row in other] != [row[2] for row in first]


def test_customers_mix_chinese_and_english_individuals_and_organisations():
    seed(customers=200)

    customers = list(Customer.objects.all())
    chinese = [c for c in customers if CJK.search(c.name)]
    english = [c for c in customers if re.fullmatch(r"[A-Za-z .,&'-]+", c.name)]
    assert len(chinese) > 100
    assert len(english) > 15
    assert any(c.name.endswith("有限公司") for c in chinese)
    assert any(c.kind == Customer.Kind.INDIVIDUAL for c in chinese)
    assert any(c.kind == Customer.Kind.ORGANISATION for c in english)
    assert {"广东", "上海"} <= {c.region for c in customers}
    assert any(not CJK.search(c.region) for c in customers), "some overseas customers"


def test_seeded_customers_have_consistent_contact_data_owners_and_history():
    seed(customers=200)

    customers = list(Customer.objects.select_related("owner"))
    assert all(c.phone_digits == normalize_phone(c.phone) for c in customers)
    assert all(c.email == c.email.lower() for c in customers)
    assert all(re.fullmatch(r"C\d{6}", c.external_ref) for c in customers)
    assert {c.owner.username for c in customers if c.owner} == {"sales1", "sales2"}
    assert any(c.owner is None for c in customers), "some customers in the shared pool"
    assert any(c.source == Customer.Source.REFERRAL and c.referred_by for c in customers)
    assert any(c.marketing_consent and c.consent_at and c.consent_channel for c in customers)
    assert all(c.birthday is None for c in customers if c.kind == Customer.Kind.ORGANISATION)
    assert any(c.birthday for c in customers if c.kind == Customer.Kind.INDIVIDUAL)
    assert Customer.tags.through.objects.exists()
    organisations = Customer.objects.filter(kind=Customer.Kind.ORGANISATION)
    assert not Contact.objects.exclude(customer__in=organisations).exists()
    now = timezone.now()
    interactions = list(Interaction.objects.select_related("customer"))
    assert interactions
    assert all(i.occurred_at < now for i in interactions)
    assert all(i.actor_id == i.customer.owner_id for i in interactions if i.customer.owner_id)


def test_demo_users_have_overdue_due_today_upcoming_and_done_tasks():
    seed(customers=200)

    today = timezone.localdate()
    for username in ("sales1", "sales2", "service1", "marketing1", "manager"):
        tasks = Task.objects.filter(owner__username=username)
        assert tasks.overdue(today=today).exists(), username
        assert tasks.due_today(today=today).exists(), username
        assert tasks.open().filter(due_date__gt=today).exists(), username
    assert Task.objects.filter(done=True, done_at__isnull=False).exists()


def test_seed_includes_likely_duplicates_for_the_duplicates_page():
    seed(customers=200)

    customers = list(Customer.objects.all())
    by_phone, by_name = {}, {}
    for c in customers:
        if c.phone_digits:
            by_phone.setdefault(c.phone_digits, []).append(c)
        if c.kind == Customer.Kind.ORGANISATION:
            by_name.setdefault(normalize_name(c.name), []).append(c)
    same_phone_written_differently = [
        group for group in by_phone.values() if len(group) > 1 and len({c.phone for c in group}) > 1
    ]
    same_company_with_and_without_legal_form = [
        group for group in by_name.values() if len(group) > 1 and len({c.name for c in group}) > 1
    ]
    assert same_phone_written_differently
    assert same_company_with_and_without_legal_form


def test_refuses_to_seed_customers_into_a_database_that_has_some():
    seed(customers=60)

    with pytest.raises(CommandError, match="--append"):
        seed(customers=60)

    assert Customer.objects.count() == 60


def test_append_adds_new_customers_after_the_highest_reference():
    seed(customers=60)
    first_names = set(Customer.objects.values_list("name", flat=True))

    seed(customers=40, append=True)

    assert Customer.objects.count() == 100
    added = Customer.objects.filter(external_ref__gt="C000060")
    assert sorted(added.values_list("external_ref", flat=True)) == [f"C{n:06d}" for n in range(61, 101)]
    assert set(added.values_list("name", flat=True)) != first_names


def test_seeding_runs_no_query_per_row():
    with CaptureQueriesContext(connection) as small:
        seed(customers=30)
    Customer.objects.all().delete()
    with CaptureQueriesContext(connection) as large:
        seed(customers=300)

    def reads(queries):
        return [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("SELECT")]

    rows = (
        sum(m.objects.count() for m in (Customer, Contact, Interaction, Task)) + Customer.tags.through.objects.count()
    )
    assert len(reads(large.captured_queries)) == len(reads(small.captured_queries))
    assert len(large.captured_queries) < rows / 10


def test_if_empty_seeds_an_empty_database_and_leaves_a_used_one_alone():
    seed(customers=30, if_empty=True)
    assert Customer.objects.count() == 30
    sales1 = get_user_model().objects.get(username="sales1")
    sales1.set_password("changed-by-the-user-123")
    sales1.save()

    output = seed(customers=30, if_empty=True)

    assert Customer.objects.count() == 30
    assert "already has 30 customers" in output
    assert get_user_model().objects.get(username="sales1").check_password("changed-by-the-user-123")


def test_customers_added_after_seeding_get_new_ids(owner):
    seed(customers=60)
    highest = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()

    created = Customer.objects.create(name="Added by hand", owner=owner)
    contact = Contact.objects.create(customer=created, name="New contact")

    assert created.pk > highest
    assert contact.pk > Contact.objects.exclude(pk=contact.pk).order_by("-pk").values_list("pk", flat=True).first()
