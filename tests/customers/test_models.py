import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers import roles, services
from customers.models import Customer, Task, Team
from tests.factories import ContactFactory, CustomerFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_role_user(db):
    return UserFactory(username="norole")


@pytest.fixture
def superuser(db):
    """A superuser without any role group still counts as an admin."""
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def book(owner, teammate, team_manager, outsider):
    """One customer per owner, plus one in the shared pool."""
    return {
        "owner": CustomerFactory(name="Owner's", owner=owner),
        "teammate": CustomerFactory(name="Teammate's", owner=teammate),
        "team_manager": CustomerFactory(name="Team manager's", owner=team_manager),
        "outsider": CustomerFactory(name="Outsider's", owner=outsider),
        "pool": CustomerFactory(name="Pool", owner=None),
    }


ALL = {"owner", "teammate", "team_manager", "outsider", "pool"}
# Who sees (and may change) whose customers, from DESIGN.md "Who sees what".
VISIBLE = {
    "owner": {"owner"},
    "teammate": {"teammate"},
    "team_manager": {"owner", "teammate", "team_manager"},
    "outsider": {"outsider"},
    "manager": ALL,
    "service_agent": ALL,
    "marketer": ALL,
    "admin_user": ALL,
    "no_role_user": set(),
    "superuser": ALL,
}
EDITABLE = {
    "owner": {"owner"},
    "teammate": {"teammate"},
    "team_manager": {"owner", "teammate", "team_manager"},
    "outsider": {"outsider"},
    "manager": set(),
    "service_agent": set(),
    "marketer": set(),
    "admin_user": ALL,
    "no_role_user": set(),
    "superuser": ALL,
}


def keys_of(queryset, book):
    by_pk = {customer.pk: key for key, customer in book.items()}
    return {by_pk[pk] for pk in queryset.values_list("pk", flat=True)}


@pytest.mark.parametrize("persona", list(VISIBLE))
def test_customers_visible_to_each_persona(request, book, persona):
    user = request.getfixturevalue(persona)

    assert keys_of(Customer.objects.visible_to(user), book) == VISIBLE[persona]


@pytest.mark.parametrize("persona", list(EDITABLE))
def test_customers_editable_by_each_persona(request, book, persona):
    user = request.getfixturevalue(persona)

    assert keys_of(Customer.objects.editable_by(user), book) == EDITABLE[persona]


def test_nobody_can_edit_what_they_cannot_see(request, book):
    for persona in VISIBLE:
        user = request.getfixturevalue(persona)
        assert EDITABLE[persona] <= VISIBLE[persona]
        assert keys_of(Customer.objects.editable_by(user), book) <= keys_of(Customer.objects.visible_to(user), book)


def test_anonymous_user_sees_no_customers(book):
    from django.contrib.auth.models import AnonymousUser

    assert not Customer.objects.visible_to(AnonymousUser()).exists()
    assert not Customer.objects.editable_by(AnonymousUser()).exists()


def test_a_manager_of_several_teams_sees_all_their_members_customers(team_manager, owner, outsider, book):
    team_manager.managed_teams.create(name="North").members.add(outsider)

    assert keys_of(Customer.objects.visible_to(team_manager), book) == {"owner", "teammate", "team_manager", "outsider"}


def test_leaving_the_team_hides_the_customers_from_the_team_manager(team_manager, owner, book):
    team_manager.managed_teams.get().members.remove(owner)

    assert book["owner"] not in Customer.objects.visible_to(team_manager)


def test_a_team_manager_without_the_sales_manager_role_sees_only_their_own(owner, book):
    lead_rep = UserFactory(username="leadrep", roles=[roles.SALES_REP])
    Team.objects.create(name="South", manager=lead_rep).members.add(owner)

    assert keys_of(Customer.objects.visible_to(lead_rep), book) == set()


def test_active_leaves_out_archived_customers(owner):
    kept = CustomerFactory(owner=owner)
    archived = CustomerFactory(owner=owner)
    services.customer_archive(customer=archived, actor=owner)

    assert list(Customer.objects.active()) == [kept]


# Task visibility


@pytest.fixture
def tasks(owner, teammate, outsider):
    owners_customer = CustomerFactory(owner=owner)
    return {
        "owner's task on owner's customer": TaskFactory(customer=owners_customer, owner=owner),
        "teammate's task on owner's customer": TaskFactory(customer=owners_customer, owner=teammate),
        "outsider's own task": TaskFactory(customer=CustomerFactory(owner=outsider), owner=outsider),
        "owner's task without customer": TaskFactory(customer=None, owner=owner),
        "made by owner for outsider": TaskFactory(customer=None, owner=outsider, created_by=owner),
    }


TASKS_VISIBLE = {
    "owner": {
        "owner's task on owner's customer",
        "teammate's task on owner's customer",
        "owner's task without customer",
        "made by owner for outsider",
    },
    "teammate": {"teammate's task on owner's customer"},
    "team_manager": {"owner's task on owner's customer", "teammate's task on owner's customer"},
    "outsider": {"outsider's own task", "made by owner for outsider"},
    "manager": "all",
    "admin_user": "all",
    "service_agent": {
        "owner's task on owner's customer",
        "teammate's task on owner's customer",
        "outsider's own task",
    },
    "no_role_user": set(),
}


@pytest.mark.parametrize("persona", list(TASKS_VISIBLE))
def test_tasks_visible_to_each_persona(request, tasks, persona):
    user = request.getfixturevalue(persona)
    expected = set(tasks) if TASKS_VISIBLE[persona] == "all" else TASKS_VISIBLE[persona]
    by_pk = {task.pk: key for key, task in tasks.items()}

    assert {by_pk[pk] for pk in Task.objects.visible_to(user).values_list("pk", flat=True)} == expected


def test_a_user_without_role_still_sees_the_tasks_given_to_them(tasks, no_role_user):
    mine = TaskFactory(customer=None, owner=no_role_user)

    assert list(Task.objects.visible_to(no_role_user)) == [mine]


def test_task_states_relative_to_today(owner):
    today = datetime.date(2025, 6, 10)
    customer = CustomerFactory(owner=owner)
    overdue = TaskFactory(customer=customer, due_date=today - datetime.timedelta(days=1))
    due_today = TaskFactory(customer=customer, due_date=today)
    later = TaskFactory(customer=customer, due_date=today + datetime.timedelta(days=1))
    TaskFactory(customer=customer, due_date=today - datetime.timedelta(days=3), done=True)

    assert list(Task.objects.open()) == [overdue, due_today, later]
    assert list(Task.objects.overdue(today=today)) == [overdue]
    assert list(Task.objects.due_today(today=today)) == [due_today]
    assert overdue.is_overdue(today) and not due_today.is_overdue(today)


def test_overdue_defaults_to_the_local_date(owner, time_machine):
    # 23:30 UTC is already the next day in Asia/Shanghai.
    time_machine.move_to(datetime.datetime(2025, 6, 10, 23, 30, tzinfo=datetime.UTC), tick=False)
    assert timezone.localdate() == datetime.date(2025, 6, 11)
    task = TaskFactory(customer=CustomerFactory(owner=owner), due_date=datetime.date(2025, 6, 10))

    assert list(Task.objects.overdue()) == [task]
    assert not Task.objects.due_today().exists()


# Search


def make(owner, name, **data):
    return services.customer_create(actor=owner, data={"name": name, "owner": owner, **data})


def test_search_matches_name_email_phone_and_reference(owner):
    alpha = make(owner, "Alpha Trading", phone="+86 138-0013-8000", email="Buyer@Alpha.example", external_ref="ERP-7")
    make(owner, "Beta Foods", phone="021 5555 0101", email="info@beta.example")

    assert list(Customer.objects.search("alpha")) == [alpha]
    assert list(Customer.objects.search("138 0013 8000")) == [alpha]
    assert list(Customer.objects.search("0013-8000")) == [alpha]
    assert list(Customer.objects.search("buyer@alpha")) == [alpha]
    assert list(Customer.objects.search("ERP-7")) == [alpha]
    assert Customer.objects.search("").count() == 2


def test_search_by_contact_lists_the_customer_once(owner):
    acme = make(owner, "Acme", phone="13800000001")
    for first in ("Zhang Wei", "Zhang Min", "Zhang Li"):
        ContactFactory(customer=acme, name=first)
    other = make(owner, "Other Co", phone="13800000002")
    ContactFactory(customer=other, name="Li Na")

    found = Customer.objects.search("zhang")

    assert list(found) == [acme]
    assert found.count() == 1


def test_search_by_contact_phone(owner):
    acme = make(owner, "Acme", phone="13800000001")
    ContactFactory(customer=acme, name="Wang", phone="139-1234-5678", phone_digits="13912345678")

    assert list(Customer.objects.search("139 1234 5678")) == [acme]


def test_search_never_widens_visibility(owner, outsider):
    make(owner, "Zhang Trading", phone="13800000001")

    assert not Customer.objects.visible_to(outsider).search("zhang").exists()


def test_short_digit_strings_do_not_match_every_phone(owner):
    make(owner, "Alpha", phone="13800000001")

    assert not Customer.objects.search("13").exists()


# Constraints


def test_external_ref_is_unique(owner):
    CustomerFactory(owner=owner, external_ref="ERP-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(owner=owner, external_ref="ERP-1")


def test_blank_external_ref_is_stored_as_null_so_many_customers_may_lack_one(owner):
    first = make(owner, "Alpha", phone="13800000001", external_ref="")
    second = make(owner, "Beta", phone="13800000002", external_ref="   ")
    third = make(owner, "Gamma", phone="13800000003")

    assert [c.external_ref for c in (first, second, third)] == [None, None, None]
    assert Customer.objects.filter(external_ref__isnull=True).count() == 3


def test_database_refuses_an_empty_string_external_ref(owner):
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(owner=owner, external_ref="")


def test_customer_url_and_text(owner):
    customer = make(owner, "Alpha", phone="13800000001")

    assert str(customer) == "Alpha"
    assert customer.get_absolute_url() == f"/customers/{customer.pk}/"
