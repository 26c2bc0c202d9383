import datetime
import re
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers import roles, services
from customers.models import Contact, Customer, Interaction, Task
from tests.conftest import MODEL_BACKEND
from tests.factories import ContactFactory, CustomerFactory, InteractionFactory, TagFactory, TaskFactory, UserFactory

pytestmark = pytest.mark.django_db


def make(owner, name="Acme Trading", *, tags=None, **data):
    """A customer made the way the app makes them (normalised phone and email, a Created history row)."""
    return services.customer_create(
        actor=owner, data={"name": name, "owner": owner, "phone": "13800138000", **data}, tags=tags
    )


def detail_url(customer):
    return reverse("customers:detail", args=[customer.pk])


def update_url(customer):
    return reverse("customers:update", args=[customer.pk])


def new_customer_form(owner, **overrides):
    return {
        "kind": Customer.Kind.ORGANISATION,
        "name": "Lotus Trading",
        "phone": "+86 138-0013-8000",
        "email": "",
        "category": Customer.Category.CONSUMER,
        "relationship_level": Customer.RelationshipLevel.TRANSACTIONAL,
        "owner": owner.pk,
        **overrides,
    }


def listed(response):
    """Names of the customers on the list page, in order."""
    return [customer.name for customer in response.context["customers"]]


class _FormReader(HTMLParser):
    """What a browser would submit for each <form> on a page: successful controls and their values."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self._in_form = False
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"attrs": attrs, "fields": []})
            self._in_form = True
        elif not self._in_form:
            return
        elif tag == "input" and attrs.get("name") and "disabled" not in attrs:
            kind = attrs.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self.forms[-1]["fields"].append((attrs["name"], attrs.get("value", "on")))
            elif kind not in {"submit", "button", "file", "image", "reset"}:
                self.forms[-1]["fields"].append((attrs["name"], attrs.get("value", "")))
        elif tag == "select" and attrs.get("name"):
            self._select = {"name": attrs["name"], "options": [], "selected": []}
        elif tag == "option" and self._select is not None:
            self._select["options"].append(attrs.get("value", ""))
            if "selected" in attrs:
                self._select["selected"].append(attrs.get("value", ""))
        elif tag == "textarea" and attrs.get("name"):
            self._textarea = [attrs["name"], ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select" and self._select is not None:
            values = self._select["selected"] or self._select["options"][:1]
            self.forms[-1]["fields"].extend((self._select["name"], value) for value in values)
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.forms[-1]["fields"].append((self._textarea[0], self._textarea[1].removeprefix("\n")))
            self._textarea = None


def form_data(response, css_class):
    """The data a browser would post from the form with this CSS class on the page."""
    reader = _FormReader()
    reader.feed(response.content.decode())
    for form in reader.forms:
        if css_class in form["attrs"].get("class", "").split():
            data = {}
            for name, value in form["fields"]:
                data.setdefault(name, []).append(value)
            return {name: values if len(values) > 1 or name == "tags" else values[0] for name, values in data.items()}
    raise AssertionError(f"no form with class {css_class!r} on the page")


# Who may see and change a customer


@pytest.fixture
def owners_book(owner):
    """Owner's customer with a contact and an open task."""
    customer = make(owner, "Owner Co", city="深圳")
    return {
        "customer": customer,
        "contact": ContactFactory(customer=customer, name="Wang Fang"),
        "task": TaskFactory(customer=customer, owner=owner, title="Send the quote"),
    }


def _snapshot(book):
    customer = Customer.objects.get(pk=book["customer"].pk)
    return {
        "customer": (customer.name, customer.city, customer.phone, customer.version, customer.archived),
        "history": customer.history.count(),
        "contacts": list(Contact.objects.order_by("pk").values_list("name", "phone", "is_primary")),
        "interactions": Interaction.objects.count(),
        "tasks": list(Task.objects.order_by("pk").values_list("title", "done")),
    }


CUSTOMER_OBJECT_VIEWS = [
    ("get", "customers:detail", "customer", {}),
    ("get", "customers:update", "customer", {}),
    ("post", "customers:update", "customer", {"name": "Hijacked", "phone": "1", "version": "1"}),
    ("get", "customers:archive", "customer", {}),
    ("post", "customers:archive", "customer", {}),
    ("post", "customers:restore", "customer", {}),
    ("get", "customers:interaction_create", "customer", {}),
    ("post", "customers:interaction_create", "customer", {"kind": "call", "subject": "Sneaky"}),
    ("get", "customers:task_create", "customer", {}),
    ("post", "customers:task_create", "customer", {"title": "Sneaky", "due_date": "2099-01-01"}),
    ("get", "customers:contact_create", "customer", {}),
    ("post", "customers:contact_create", "customer", {"name": "Sneaky", "phone": "1"}),
    ("get", "customers:contact_update", "contact", {}),
    ("post", "customers:contact_update", "contact", {"name": "Sneaky", "phone": "1"}),
    ("post", "customers:task_toggle_done", "task", {}),
]
VIEW_IDS = [f"{method} {name}" for method, name, _kind, _data in CUSTOMER_OBJECT_VIEWS]


@pytest.mark.parametrize(("method", "url_name", "target", "data"), CUSTOMER_OBJECT_VIEWS, ids=VIEW_IDS)
def test_outsider_gets_404_on_every_customer_object_view_and_nothing_changes(
    login, outsider, owner, owners_book, method, url_name, target, data
):
    if url_name == "customers:restore":
        services.customer_archive(customer=owners_book["customer"], actor=owner)
    before = _snapshot(owners_book)
    client = login(outsider)

    response = getattr(client, method)(reverse(url_name, args=[owners_book[target].pk]), data)

    assert response.status_code == 404
    assert _snapshot(owners_book) == before


@pytest.mark.parametrize(("method", "url_name", "target", "data"), CUSTOMER_OBJECT_VIEWS, ids=VIEW_IDS)
def test_teammate_gets_404_on_owners_customer(login, teammate, owners_book, method, url_name, target, data):
    before = _snapshot(owners_book)

    response = getattr(login(teammate), method)(reverse(url_name, args=[owners_book[target].pk]), data)

    assert response.status_code == 404
    assert _snapshot(owners_book) == before


@pytest.mark.parametrize("persona", ["owner", "team_manager", "admin_user"])
def test_owner_team_manager_and_admin_can_see_and_edit(request, login, owners_book, persona):
    user = request.getfixturevalue(persona)
    client = login(user)
    customer = owners_book["customer"]

    detail = client.get(detail_url(customer))
    assert detail.status_code == 200
    assert detail.context["can_edit"] is True
    assert f'href="{update_url(customer)}"' in detail.content.decode()

    form_page = client.get(update_url(customer))
    assert form_page.status_code == 200
    data = {**form_data(form_page, "customer-form"), "city": "广州"}
    assert client.post(update_url(customer), data).status_code == 302
    assert Customer.objects.get(pk=customer.pk).city == "广州"


@pytest.mark.parametrize("persona", ["manager", "marketer", "service_agent"])
def test_read_only_roles_see_the_customer_but_cannot_change_it(request, login, owner, owners_book, persona):
    client = login(request.getfixturevalue(persona))
    customer = owners_book["customer"]
    before = _snapshot(owners_book)

    detail = client.get(detail_url(customer))
    assert detail.status_code == 200
    assert detail.context["can_edit"] is False
    assert update_url(customer) not in detail.content.decode()

    assert client.get(update_url(customer)).status_code == 403
    assert client.post(update_url(customer), new_customer_form(owner, name="Changed", version=1)).status_code == 403
    assert client.get(reverse("customers:archive", args=[customer.pk])).status_code == 403
    assert client.post(reverse("customers:archive", args=[customer.pk])).status_code == 403
    assert _snapshot(owners_book) == before


@pytest.mark.parametrize("persona", ["manager", "marketer"])
def test_managers_and_marketing_cannot_log_activity(request, login, owners_book, persona):
    client = login(request.getfixturevalue(persona))
    customer = owners_book["customer"]
    before = _snapshot(owners_book)

    response = client.post(
        reverse("customers:interaction_create", args=[customer.pk]),
        {"kind": "call", "subject": "Called", "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")},
    )

    assert response.status_code == 403
    assert client.get(reverse("customers:contact_create", args=[customer.pk])).status_code == 403
    assert _snapshot(owners_book) == before


def test_service_agent_can_log_an_interaction_and_add_a_contact(login, service_agent, owners_book):
    client = login(service_agent)
    customer = owners_book["customer"]

    response = client.post(
        reverse("customers:interaction_create", args=[customer.pk]),
        {"kind": "call", "subject": "Complaint call", "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")},
    )
    assert response.status_code == 302
    interaction = Interaction.objects.get()
    assert (interaction.subject, interaction.actor) == ("Complaint call", service_agent)

    response = client.post(
        reverse("customers:contact_create", args=[customer.pk]), {"name": "Zhao Lei", "phone": "139 0000 0000"}
    )
    assert response.status_code == 302
    assert customer.contacts.get(name="Zhao Lei").phone_digits == "13900000000"


def test_only_sales_and_admins_may_open_the_create_page(login, service_agent, marketer, owner):
    assert login(service_agent).get(reverse("customers:create")).status_code == 403
    assert login(marketer).get(reverse("customers:create")).status_code == 403
    assert login(owner).get(reverse("customers:create")).status_code == 200


# The list: visibility, search, filters, sorting, paging


def test_list_shows_only_visible_customers_with_correct_counts(login, owner, teammate, outsider, team_manager):
    make(owner, "Owner One")
    make(owner, "Owner Two")
    make(teammate, "Teammate One")
    make(outsider, "Outsider One")

    as_outsider = login(outsider).get(reverse("customers:list"))
    assert listed(as_outsider) == ["Outsider One"]
    assert as_outsider.context["paginator"].count == 1
    assert "Owner One" not in as_outsider.content.decode()
    assert "1 customer" in as_outsider.content.decode()

    as_owner = login(owner).get(reverse("customers:list"))
    assert listed(as_owner) == ["Owner One", "Owner Two"]
    assert "2 customers" in as_owner.content.decode()

    as_team_manager = login(team_manager).get(reverse("customers:list"))
    assert listed(as_team_manager) == ["Owner One", "Owner Two", "Teammate One"]
    assert "3 customers" in as_team_manager.content.decode()


@pytest.fixture
def searchable(owner):
    alpha = make(owner, "Alpha Trading", phone="+86 138-0013-8000", email="Orders@Alpha.example")
    beta = make(owner, "Beta Foods", phone="021-5555-0101", email="info@beta.example")
    ContactFactory(customer=beta, name="Zhang Wei", phone="13911112222", phone_digits="13911112222")
    ContactFactory(customer=beta, name="Zhang Min", phone="13911113333", phone_digits="13911113333")
    return alpha, beta


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("alpha", ["Alpha Trading"]),
        ("138 0013 8000", ["Alpha Trading"]),
        ("13800138000", ["Alpha Trading"]),
        ("(021) 5555 0101", ["Beta Foods"]),
        ("orders@alpha.example", ["Alpha Trading"]),
        ("zhang", ["Beta Foods"]),
        ("139-1111-2222", ["Beta Foods"]),
        ("nobody", []),
    ],
)
def test_search_on_the_list(login, owner, searchable, query, expected):
    response = login(owner).get(reverse("customers:list"), {"q": query})

    assert listed(response) == expected
    assert response.context["paginator"].count == len(expected)


def test_search_does_not_reach_other_peoples_customers(login, outsider, searchable):
    assert listed(login(outsider).get(reverse("customers:list"), {"q": "alpha"})) == []


def test_global_search_finds_customers_and_contacts(login, owner, outsider, searchable):
    response = login(owner).get(reverse("customers:search"), {"q": "zhang"})
    assert [c.name for c in response.context["customers"]] == ["Beta Foods"]
    assert sorted(c.name for c in response.context["contacts"]) == ["Zhang Min", "Zhang Wei"]

    assert login(outsider).get(reverse("customers:search"), {"q": "zhang"}).context["contacts"] == []


@pytest.fixture
def varied(owner, teammate, team_manager):
    vip_tag, north_tag = TagFactory(name="vip-club"), TagFactory(name="north")
    customers = {
        "Channel North": make(
            owner, "Channel North", category=Customer.Category.CHANNEL, region="北京", tags=[north_tag]
        ),
        "Consumer South": make(owner, "Consumer South", region="广东", tags=[vip_tag]),
        "Teammate Channel": make(teammate, "Teammate Channel", category=Customer.Category.CHANNEL, region="广东"),
        "Archived One": make(owner, "Archived One", region="北京"),
    }
    Customer.objects.filter(name="Consumer South").update(tier=Customer.Tier.VIP)
    services.customer_archive(customer=customers["Archived One"], actor=owner)
    return {"vip_tag": vip_tag, "north_tag": north_tag, **customers}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Channel North", "Consumer South", "Teammate Channel"]),
        ({"category": "channel"}, ["Channel North", "Teammate Channel"]),
        ({"tier": "vip"}, ["Consumer South"]),
        ({"owner": "teammate"}, ["Teammate Channel"]),
        ({"region": "北京"}, ["Channel North"]),
        ({"tag": "north_tag"}, ["Channel North"]),
        ({"archived": "archived"}, ["Archived One"]),
        ({"archived": "all"}, ["Archived One", "Channel North", "Consumer South", "Teammate Channel"]),
        ({"archived": "all", "region": "北京"}, ["Archived One", "Channel North"]),
        ({"category": "channel", "region": "广东"}, ["Teammate Channel"]),
    ],
)
def test_list_filters(request, login, team_manager, varied, params, expected):
    if "owner" in params:
        params = {**params, "owner": request.getfixturevalue(params["owner"]).pk}
    if "tag" in params:
        params = {**params, "tag": varied[params["tag"]].pk}

    response = login(team_manager).get(reverse("customers:list"), params)

    assert listed(response) == expected


def test_filter_choices_offer_only_what_the_user_can_see(login, owner, outsider, varied):
    make(outsider, "Far Away", region="新疆")

    form = login(owner).get(reverse("customers:list")).context["filter"].form

    assert [choice for choice, _label in form.fields["region"].choices if choice] == ["北京", "广东"]
    assert list(form.fields["owner"].queryset) == [owner]


def test_filtering_by_an_invisible_owner_shows_nothing(login, owner, outsider, varied):
    make(outsider, "Far Away")

    assert listed(login(owner).get(reverse("customers:list"), {"owner": outsider.pk})) == []


def test_customers_in_the_shared_pool_are_in_the_default_list(login, manager, owner):
    make(owner, "Owned Co")
    CustomerFactory(name="Pool Co", owner=None)
    client = login(manager)

    assert listed(client.get(reverse("customers:list"))) == ["Owned Co", "Pool Co"]
    assert listed(client.get(reverse("customers:list"), {"no_owner": "on"})) == ["Pool Co"]


def test_list_sorts_by_name_both_ways(login, owner):
    for name in ("Mango", "Apple", "Banana"):
        make(owner, name)
    client = login(owner)

    ascending = listed(client.get(reverse("customers:list"), {"sort": "name"}))
    descending = listed(client.get(reverse("customers:list"), {"sort": "-name"}))

    assert ascending == sorted(ascending)
    assert descending == list(reversed(ascending))
    assert ascending == ["Apple", "Banana", "Mango"]


@pytest.fixture
def sixty(owner):
    CustomerFactory.create_batch(60, owner=owner)


def test_list_pages_by_the_chosen_page_size(login, owner, sixty):
    client = login(owner)

    response = client.get(reverse("customers:list"), {"per_page": 25})
    assert len(listed(response)) == 25
    assert (response.context["page_obj"].number, response.context["paginator"].num_pages) == (1, 3)
    assert "Page 1 of 3" in response.content.decode()

    last = client.get(reverse("customers:list"), {"per_page": 25, "page": 3})
    assert len(listed(last)) == 10
    assert "Page 3 of 3" in last.content.decode()

    assert client.get(reverse("customers:list"), {"per_page": 50}).context["paginator"].num_pages == 2


def test_unknown_page_size_falls_back_to_25(login, owner, sixty):
    response = login(owner).get(reverse("customers:list"), {"per_page": 100000})

    assert len(listed(response)) == 25


def test_paging_links_keep_the_filters(login, owner, sixty):
    response = login(owner).get(reverse("customers:list"), {"per_page": 25, "category": "consumer"})

    assert "per_page=25&amp;category=consumer&amp;page=2" in response.content.decode()


# Query counts


def _count_queries(client, url, **headers):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **headers)
    assert response.status_code == 200
    return len(queries)


def _customers_with_tags_and_owners(reps, n, start=0):
    tags = [TagFactory(name=f"tag-{i}") for i in range(3)]
    for i in range(start, start + n):
        customer = CustomerFactory(owner=reps[i % len(reps)], name=f"Customer {i:03d}")
        customer.tags.set(tags[: 1 + i % 3])


def test_list_page_queries_do_not_grow_with_rows(login, team_manager, owner, teammate, django_assert_max_num_queries):
    client = login(team_manager)
    url = reverse("customers:list")
    _customers_with_tags_and_owners([owner, teammate, team_manager], 5)
    client.get(url)  # warm caches (content types, sessions) before counting
    few = _count_queries(client, url)
    assert few <= 15

    _customers_with_tags_and_owners([owner, teammate, team_manager], 55, start=5)
    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert len(listed(response)) == 25


def test_list_page_htmx_partial_queries_do_not_grow_with_rows(login, owner, django_assert_max_num_queries):
    client = login(owner)
    url = reverse("customers:list")
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "customer-results"}
    _customers_with_tags_and_owners([owner], 5)
    client.get(url, **headers)
    few = _count_queries(client, url, **headers)

    _customers_with_tags_and_owners([owner], 55, start=5)
    with django_assert_max_num_queries(few):
        response = client.get(url, **headers)
    assert "<html" not in response.content.decode()


def _rich_customer(owner, teammate, team_manager, *, interactions, contacts, tasks, history):
    referrer = make(owner, f"Referrer {interactions}", phone="13700000000")
    # Referred from the start, so that even one history row names a referrer (resolved in one query).
    customer = make(owner, f"Rich {interactions}", referred_by=referrer)
    # Tags straight into the link table: tag changes add history rows of their own (a separate test covers that).
    Customer.tags.through.objects.bulk_create(
        [Customer.tags.through(customer=customer, tag=TagFactory(name=name)) for name in ("a", "b")]
    )
    contact_rows = [ContactFactory(customer=customer) for _ in range(contacts)]
    actors = [owner, teammate, team_manager]
    for i in range(interactions):
        InteractionFactory(customer=customer, actor=actors[i % 3], contact=contact_rows[i % len(contact_rows)])
    for i in range(tasks):
        TaskFactory(customer=customer, owner=actors[i % 3])
    for i in range(history - 1):
        data = {"city": f"City {i}", "owner": actors[i % 2], "referred_by": None if i % 2 else referrer}
        customer.refresh_from_db()
        services.customer_update(customer=customer, actor=actors[i % 3], data=data, expected_version=customer.version)
    assert customer.history.count() == history
    return customer


def test_360_page_queries_do_not_grow_with_history(login, owner, teammate, team_manager, django_assert_max_num_queries):
    client = login(team_manager)
    small = _rich_customer(owner, teammate, team_manager, interactions=1, contacts=1, tasks=1, history=1)
    big = _rich_customer(owner, teammate, team_manager, interactions=40, contacts=10, tasks=10, history=15)
    client.get(detail_url(small))
    few = _count_queries(client, detail_url(small))

    with django_assert_max_num_queries(few):
        response = client.get(detail_url(big))

    panels = {panel["key"]: panel["context"] for column in response.context["panels"].values() for panel in column}
    assert len(panels["interactions"]["interactions"]) == 40
    assert len(panels["contacts"]["contacts"]) == 10
    assert len(panels["tasks"]["tasks"]) == 10
    assert len(panels["history"]["entries"]) == 15


# Create


def test_create_through_the_form_redirects_to_the_360_page_with_created_in_history(login, owner):
    client = login(owner)

    response = client.post(reverse("customers:create"), new_customer_form(owner, name="Lotus Trading"))

    customer = Customer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == detail_url(customer)
    assert (customer.phone_digits, customer.owner, customer.created_by) == ("13800138000", owner, owner)
    page = client.get(response["Location"])
    history = page.content.decode().split('id="panel-history"')[1]
    assert "Created" in history
    assert "Customer “Lotus Trading” created." in page.content.decode()


def test_create_form_defaults_the_account_manager_to_the_user(login, owner):
    response = login(owner).get(reverse("customers:create"))

    assert form_data(response, "customer-form")["owner"] == str(owner.pk)


def test_create_with_tags_and_a_referrer(login, owner):
    referrer = make(owner, "Old Friend Ltd", external_ref="ERP-9")
    vip = TagFactory(name="vip")

    response = login(owner).post(
        reverse("customers:create"),
        new_customer_form(owner, name="New Friend", referred_by_lookup="ERP-9", source="referral", tags=[vip.pk]),
    )

    assert response.status_code == 302
    customer = Customer.objects.get(name="New Friend")
    assert customer.referred_by == referrer
    assert list(customer.tags.all()) == [vip]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"phone": "", "email": ""}, "Give at least a phone number or an email address."),
        ({"external_ref": "ERP-1"}, "Another customer (Existing Co) already has this external reference."),
        ({"marketing_consent": "on", "consent_channel": ""}, "Say through which channel the customer gave consent."),
        ({"referred_by_lookup": "No Such Customer"}, "No customer has this name or reference."),
        ({"birthday": "2999-01-01"}, "A birthday cannot be in the future."),
    ],
)
def test_create_form_errors_rerender_with_a_message(login, owner, overrides, message):
    make(owner, "Existing Co", external_ref="ERP-1")

    response = login(owner).post(reverse("customers:create"), new_customer_form(owner, **overrides))

    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert "Please correct the errors below." in page
    assert Customer.objects.count() == 1


def test_referrer_lookup_cannot_reach_an_invisible_customer(login, owner, outsider):
    make(outsider, "Secret Co", external_ref="SECRET-1")

    response = login(owner).post(reverse("customers:create"), new_customer_form(owner, referred_by_lookup="SECRET-1"))

    assert response.status_code == 200
    assert "No customer has this name or reference." in response.content.decode()


def test_rep_cannot_make_someone_else_account_manager(login, owner, outsider):
    response = login(owner).post(reverse("customers:create"), {**new_customer_form(owner), "owner": outsider.pk})

    assert response.status_code == 200
    assert not Customer.objects.exists()


def test_rep_never_creates_a_customer_they_cannot_open(login, owner):
    """Leaving the account manager empty must not put the new customer out of the rep's reach."""
    client = login(owner)

    response = client.post(reverse("customers:create"), {**new_customer_form(owner), "owner": ""})

    created = Customer.objects.all()
    assert all(customer in Customer.objects.visible_to(owner) for customer in created)
    if response.status_code == 302:
        assert client.get(response["Location"]).status_code == 200


# Edit and the edit conflict


def test_edit_saves_and_history_panel_shows_old_and_new(login, owner):
    customer = make(owner, city="深圳")
    client = login(owner)
    data = {**form_data(client.get(update_url(customer)), "customer-form"), "city": "广州"}

    response = client.post(update_url(customer), data)

    assert response.status_code == 302
    assert response["Location"] == detail_url(customer)
    history = client.get(detail_url(customer)).content.decode().split('id="panel-history"')[1]
    assert re.search(r"City:</span> <del>深圳</del> → <ins>广州</ins>", history)


def test_tag_edit_through_the_form_is_credited_to_the_editor_in_history(login, owner):
    customer = make(owner)
    vip = TagFactory(name="vip")
    client = login(owner)
    data = {**form_data(client.get(update_url(customer)), "customer-form"), "tags": [vip.pk], "city": "广州"}

    assert client.post(update_url(customer), data).status_code == 302

    entries = client.get(detail_url(customer)).context["panels"]
    history = next(panel for panel in entries["main"] if panel["key"] == "history")["context"]["entries"]
    assert [entry["who"] for entry in history] == [owner, owner], "one entry per save, each naming who saved"


def test_saving_an_unchanged_form_says_nothing_changed(login, owner):
    customer = make(owner)
    client = login(owner)

    response = client.post(
        update_url(customer), form_data(client.get(update_url(customer)), "customer-form"), follow=True
    )

    assert "Nothing was changed." in response.content.decode()
    assert Customer.objects.get(pk=customer.pk).version == 1


@pytest.fixture
def named_personas(owner, team_manager):
    owner.first_name, owner.last_name = "Mei", "Lin"
    owner.save()
    team_manager.first_name, team_manager.last_name = "Jun", "Zhao"
    team_manager.save()


def test_edit_conflict_shows_who_saved_what_and_keeps_both_changes_after_resubmitting(
    login, owner, team_manager, named_personas
):
    customer = make(owner, city="深圳", phone="13800138000")
    owner_client = login(owner)
    owner_form = form_data(owner_client.get(update_url(customer)), "customer-form")
    manager_client = Client()
    manager_client.force_login(team_manager, backend=MODEL_BACKEND)
    manager_form = form_data(manager_client.get(update_url(customer)), "customer-form")
    assert owner_form["version"] == manager_form["version"] == "1"

    # The owner saves a new phone number first.
    assert owner_client.post(update_url(customer), {**owner_form, "phone": "13900000001"}).status_code == 302

    # The team manager, still on version 1, saves a new city.
    conflict = manager_client.post(update_url(customer), {**manager_form, "city": "广州"})

    assert conflict.status_code == 409
    page = conflict.content.decode()
    assert "Someone else saved this customer while you were editing" in page
    assert "Mei Lin saved it at" in page
    # The field only the other person changed is taken into the form and listed.
    assert "Changed by the other person — taken into the form" in page
    assert re.search(r"<li>Phone: 13900000001</li>", page)
    saved = Customer.objects.get(pk=customer.pk)
    assert (saved.phone, saved.city, saved.version) == ("13900000001", "深圳", 2)

    # The form on the conflict page carries the new version and the manager's own edit.
    again = form_data(conflict, "customer-form")
    assert again["version"] == "2"
    assert (again["city"], again["phone"]) == ("广州", "13900000001")
    resubmitted = manager_client.post(update_url(customer), again)

    assert resubmitted.status_code == 302
    saved = Customer.objects.get(pk=customer.pk)
    assert (saved.city, saved.phone) == ("广州", "13900000001"), "resubmitting the conflict form lost a change"


def test_conflict_when_both_change_the_same_field_lists_both_values(login, owner, team_manager, named_personas):
    customer = make(owner, city="深圳")
    owner_client = login(owner)
    owner_form = form_data(owner_client.get(update_url(customer)), "customer-form")
    manager_client = Client()
    manager_client.force_login(team_manager, backend=MODEL_BACKEND)
    manager_form = form_data(manager_client.get(update_url(customer)), "customer-form")
    owner_client.post(update_url(customer), {**owner_form, "city": "上海"})

    conflict = manager_client.post(update_url(customer), {**manager_form, "city": "广州"})

    assert conflict.status_code == 409
    assert re.search(r"<th scope=\"row\">City</th><td>上海</td><td>广州</td>", conflict.content.decode())
    assert Customer.objects.get(pk=customer.pk).city == "上海"


# Archive and restore


def test_archive_asks_first_then_archives_and_restore_brings_it_back(login, owner):
    customer = make(owner, "Fading Co")
    client = login(owner)

    confirm = client.get(reverse("customers:archive", args=[customer.pk]))
    assert confirm.status_code == 200
    assert "Archive “Fading Co”?" in confirm.content.decode()
    assert not Customer.objects.get(pk=customer.pk).archived

    archived = client.post(reverse("customers:archive", args=[customer.pk]))
    assert archived.status_code == 302
    assert archived["Location"] == detail_url(customer)
    assert Customer.objects.get(pk=customer.pk).archived
    assert listed(client.get(reverse("customers:list"))) == []
    assert listed(client.get(reverse("customers:list"), {"archived": "archived"})) == ["Fading Co"]
    detail = client.get(detail_url(customer)).content.decode()
    assert reverse("customers:restore", args=[customer.pk]) in detail
    assert "Archived" in detail.split('id="panel-history"')[1]

    restored = client.post(reverse("customers:restore", args=[customer.pk]))
    assert restored.status_code == 302
    assert listed(client.get(reverse("customers:list"))) == ["Fading Co"]
    assert "Restored" in client.get(detail_url(customer)).content.decode().split('id="panel-history"')[1]


def test_restore_refuses_get(login, owner):
    customer = make(owner)
    services.customer_archive(customer=customer, actor=owner)

    assert login(owner).get(reverse("customers:restore", args=[customer.pk])).status_code == 405
    assert Customer.objects.get(pk=customer.pk).archived


# Interactions


def interaction_form(**overrides):
    return {
        "kind": "visit",
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "subject": "Factory visit",
        "outcome": "Agreed on a trial order",
        **overrides,
    }


def test_htmx_interaction_returns_the_refreshed_panel(login, owner):
    customer = make(owner)

    response = login(owner).post(
        reverse("customers:interaction_create", args=[customer.pk]), interaction_form(), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert 'id="interactions-panel-body"' in fragment
    assert "Factory visit" in fragment
    assert "Interaction logged." in fragment
    assert customer.interactions.get().actor == owner


def test_plain_interaction_post_redirects_to_the_360_page(login, owner):
    customer = make(owner)
    client = login(owner)

    response = client.post(reverse("customers:interaction_create", args=[customer.pk]), interaction_form())

    assert response.status_code == 302
    assert response["Location"] == detail_url(customer)
    assert "Factory visit" in client.get(detail_url(customer)).content.decode()


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_interaction_in_the_future_is_rejected(login, owner, htmx):
    customer = make(owner)
    tomorrow = (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}

    response = login(owner).post(
        reverse("customers:interaction_create", args=[customer.pk]), interaction_form(occurred_at=tomorrow), **headers
    )

    assert response.status_code == 200
    assert "An interaction cannot be logged in the future; plan a task instead." in response.content.decode()
    assert not Interaction.objects.exists()


def test_interaction_with_another_customers_contact_is_rejected(login, owner):
    customer = make(owner)
    other_contact = ContactFactory(customer=make(owner, "Other"))

    response = login(owner).post(
        reverse("customers:interaction_create", args=[customer.pk]), interaction_form(contact=other_contact.pk)
    )

    assert response.status_code == 200
    assert not Interaction.objects.exists()


# Tasks


def test_task_create_plans_a_follow_up(login, owner):
    customer = make(owner)
    due = timezone.localdate() + datetime.timedelta(days=7)

    response = login(owner).post(
        reverse("customers:task_create", args=[customer.pk]),
        {"title": "Send samples", "due_date": due.isoformat(), "owner": owner.pk},
    )

    assert response.status_code == 302
    task = Task.objects.get()
    assert (task.title, task.due_date, task.owner, task.created_by, task.customer) == (
        "Send samples",
        due,
        owner,
        owner,
        customer,
    )


def test_task_with_a_past_due_date_is_rejected(login, owner):
    customer = make(owner)
    yesterday = timezone.localdate() - datetime.timedelta(days=1)

    response = login(owner).post(
        reverse("customers:task_create", args=[customer.pk]),
        {"title": "Too late", "due_date": yesterday.isoformat(), "owner": owner.pk},
    )

    assert response.status_code == 200
    assert "The due date is in the past." in response.content.decode()
    assert not Task.objects.exists()


def test_task_cannot_be_given_to_someone_outside_the_team(login, owner, outsider):
    customer = make(owner)

    response = login(owner).post(
        reverse("customers:task_create", args=[customer.pk]),
        {"title": "Yours now", "due_date": timezone.localdate().isoformat(), "owner": outsider.pk},
    )

    assert response.status_code == 200
    assert not Task.objects.exists()


def test_my_tasks_counts_overdue_today_and_open(login, owner, teammate, time_machine):
    time_machine.move_to(datetime.datetime(2025, 6, 10, 2, 0, tzinfo=datetime.UTC), tick=False)
    today = timezone.localdate()
    customer = make(owner)
    for days, done in [(-3, False), (-1, False), (0, False), (2, False), (9, False), (-5, True)]:
        TaskFactory(customer=customer, owner=owner, due_date=today + datetime.timedelta(days=days), done=done)
    TaskFactory(customer=customer, owner=teammate, due_date=today - datetime.timedelta(days=1))

    response = login(owner).get(reverse("customers:task_list"))

    assert (response.context["open_count"], response.context["overdue_count"], response.context["due_today_count"]) == (
        5,
        2,
        1,
    )
    assert len(response.context["tasks"]) == 5
    page = response.content.decode()
    assert "1 task is due today." in page
    assert page.count('text-bg-danger">Overdue') == 2
    overdue = login(owner).get(reverse("customers:task_list"), {"show": "overdue"})
    assert [t.due_date for t in overdue.context["tasks"]] == [
        today - datetime.timedelta(days=3),
        today - datetime.timedelta(days=1),
    ]
    done = login(owner).get(reverse("customers:task_list"), {"show": "done"})
    assert len(done.context["tasks"]) == 1


def test_my_tasks_queries_do_not_grow_with_rows(login, owner, django_assert_max_num_queries):
    client = login(owner)
    url = reverse("customers:task_list")
    customers = [make(owner, f"Customer {i}") for i in range(3)]
    TaskFactory(customer=customers[0], owner=owner)
    client.get(url)
    few = _count_queries(client, url)
    for i in range(40):
        TaskFactory(customer=customers[i % 3], owner=owner, due_date=timezone.localdate())

    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert len(response.context["tasks"]) == 41


def test_owner_toggles_a_task_done_and_open_again(login, owner, owners_book):
    task = owners_book["task"]
    client = login(owner)

    response = client.post(reverse("customers:task_toggle_done", args=[task.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "text-decoration-line-through" in response.content.decode()
    assert Task.objects.get(pk=task.pk).done

    response = client.post(reverse("customers:task_toggle_done", args=[task.pk]), {"next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:task_list")
    assert not Task.objects.get(pk=task.pk).done


def test_task_toggle_by_someone_who_cannot_see_it_is_404(login, outsider, teammate, owners_book):
    task = owners_book["task"]

    assert login(outsider).post(reverse("customers:task_toggle_done", args=[task.pk])).status_code == 404
    assert login(teammate).post(reverse("customers:task_toggle_done", args=[task.pk])).status_code == 404
    assert not Task.objects.get(pk=task.pk).done


def test_task_toggle_refuses_get(login, owner, owners_book):
    assert login(owner).get(reverse("customers:task_toggle_done", args=[owners_book["task"].pk])).status_code == 405


# Contacts


def test_contact_create_and_update(login, owner):
    customer = make(owner)
    client = login(owner)

    response = client.post(
        reverse("customers:contact_create", args=[customer.pk]),
        {"name": "Chen Jing", "phone": "+86 139 0000 1111", "email": "Chen@Example.com", "is_primary": "on"},
    )
    assert response.status_code == 302
    contact = customer.contacts.get()
    assert (contact.phone_digits, contact.email, contact.is_primary) == ("13900001111", "chen@example.com", True)

    response = client.post(
        reverse("customers:contact_update", args=[contact.pk]), {"name": "Chen Jing", "title": "Buyer", "phone": "1"}
    )
    assert response.status_code == 302
    assert customer.contacts.get().title == "Buyer"


def test_contact_without_phone_or_email_is_rejected(login, owner):
    customer = make(owner)

    response = login(owner).post(reverse("customers:contact_create", args=[customer.pk]), {"name": "Ghost"})

    assert response.status_code == 200
    assert "Give at least a phone number or an email address." in response.content.decode()
    assert not Contact.objects.exists()


# Home and jobs


def test_home_counts_only_what_the_user_may_see(login, owner, outsider):
    make(owner, "Mine")
    make(outsider, "Not mine")

    response = login(owner).get(reverse("customers:home"))

    assert response.context["customer_count"] == 1
    assert [c.name for c in response.context["recent_customers"]] == ["Mine"]


def test_job_runs_page_is_for_admins_and_managers(login, owner, manager, admin_user):
    with services.job_run("grading") as run:
        run.count(graded=3)

    assert login(owner).get(reverse("customers:job_runs")).status_code == 403
    assert login(manager).get(reverse("customers:job_runs")).status_code == 200
    assert "grading" in login(admin_user).get(reverse("customers:job_runs")).content.decode()


def test_user_without_a_role_sees_an_empty_list_not_an_error(login):
    nobody = UserFactory(username="nobody")
    make(UserFactory(username="rep", roles=[roles.SALES_REP]), "Someone's")

    response = login(nobody).get(reverse("customers:list"))

    assert response.status_code == 200
    assert listed(response) == []


def test_360_page_of_a_customer_without_history_rows_renders(login, owner):
    # Bulk loads (seed_demo, imports) write customers without history rows.
    customer = Customer.objects.bulk_create([Customer(name="Bulk Loaded Ltd", phone="1", owner=owner)])[0]
    response = login(owner).get(reverse("customers:detail", args=[customer.pk]))
    assert response.status_code == 200
    assert "No recorded changes." in response.content.decode()
