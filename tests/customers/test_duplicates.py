import datetime

import pytest
from django.test import Client
from django.urls import reverse

from customers import services
from customers.duplicates import SAME_EMAIL, SAME_PHONE, SIMILAR_NAME, find_duplicate_groups
from customers.merging import MergeError, customer_merge
from customers.models import Contact, Customer, CustomerMerge, Interaction, Task
from tests.factories import ContactFactory, CustomerFactory, InteractionFactory, TagFactory, TaskFactory

pytestmark = pytest.mark.django_db


def make_customer(owner, name, *, tags=None, **data):
    """A customer made the way the app makes them, so phone and email are normalised."""
    return services.customer_create(actor=owner, data={"name": name, "owner": owner, **data}, tags=tags)


def groups_of(user):
    return [(sorted(group.pks), [reason.kind for reason in group.reasons]) for group in find_duplicate_groups(user)]


def merge_url(keep, merge):
    return f"{reverse('customers:merge')}?keep={keep.pk}&merge={merge.pk}"


# Finding candidates


def test_same_phone_written_differently_is_a_likely_duplicate(owner):
    a = make_customer(owner, "Alpha Trading", phone="+86 138-0013-8000")
    b = make_customer(owner, "Beta Logistics", phone="13800138000")
    make_customer(owner, "Gamma Foods", phone="13900000000")

    assert groups_of(owner) == [(sorted([a.pk, b.pk]), [SAME_PHONE])]


def test_same_email_in_different_case_is_a_likely_duplicate(owner):
    a = make_customer(owner, "Alpha Trading", email="Sales@Example.COM")
    b = make_customer(owner, "Beta Logistics", email="sales@example.com")
    make_customer(owner, "Gamma Foods", email="info@example.com")

    assert groups_of(owner) == [(sorted([a.pk, b.pk]), [SAME_EMAIL])]


@pytest.mark.parametrize(
    ("first", "second"),
    [("深圳市华强电子有限公司", "深圳市华强电子"), ("Acme Ltd", "ACME"), ("Acme, Inc.", "acme")],
)
def test_similar_company_names_are_likely_duplicates(owner, first, second):
    a = make_customer(owner, first)
    b = make_customer(owner, second)
    make_customer(owner, "深圳市华强电器有限公司")

    assert groups_of(owner) == [(sorted([a.pk, b.pk]), [SIMILAR_NAME])]


def test_customers_matching_for_several_reasons_are_listed_once_with_every_reason(owner):
    a = make_customer(owner, "Acme Ltd", phone="138 0013 8000", email="a@acme.com")
    b = make_customer(owner, "ACME", phone="13800138000", email="A@acme.com")

    assert groups_of(owner) == [(sorted([a.pk, b.pk]), [SAME_PHONE, SAME_EMAIL, SIMILAR_NAME])]


def test_blank_phone_and_email_do_not_make_duplicates(owner):
    make_customer(owner, "Alpha Trading")
    make_customer(owner, "Beta Logistics")

    assert groups_of(owner) == []


def test_archived_customers_are_not_offered(owner):
    a = make_customer(owner, "Alpha Trading", phone="13800138000")
    make_customer(owner, "Beta Logistics", phone="13800138000")
    services.customer_archive(customer=a, actor=owner)

    assert groups_of(owner) == []


def test_customers_the_user_cannot_edit_are_not_offered(owner, outsider, service_agent):
    mine = make_customer(owner, "Alpha Trading", phone="13800138000")
    make_customer(outsider, "Alpha Trading Co", phone="13800138000")

    assert groups_of(owner) == []
    assert groups_of(outsider) == []
    assert groups_of(service_agent) == []
    # The owner's own second record is found, the outsider's twin still is not.
    twin = make_customer(owner, "Alpha", phone="+86 13800138000")
    assert groups_of(owner) == [(sorted([mine.pk, twin.pk]), [SAME_PHONE])]


def test_sales_manager_and_admin_see_duplicates_across_their_scope(owner, teammate, team_manager, outsider, admin_user):
    a = make_customer(owner, "Alpha Trading", phone="13800138000")
    b = make_customer(teammate, "Alpha Trading Ltd", phone="13800138000")
    c = make_customer(outsider, "Alpha Trading Co", phone="13800138000")

    assert groups_of(team_manager) == [(sorted([a.pk, b.pk]), [SAME_PHONE, SIMILAR_NAME])]
    assert groups_of(admin_user) == [(sorted([a.pk, b.pk, c.pk]), [SAME_PHONE, SIMILAR_NAME])]


def test_duplicate_list_shows_each_group_with_why_it_matched(owner, login):
    a = make_customer(owner, "Alpha Trading", phone="+86 138-0013-8000", email="a@alpha.com", external_ref="ERP-1")
    b = make_customer(owner, "Beta Logistics", phone="13800138000")

    response = login(owner).get(reverse("customers:duplicates"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Same phone" in page
    assert "13800138000" in page
    assert "Alpha Trading" in page and "Beta Logistics" in page
    assert "ERP-1" in page and "a@alpha.com" in page
    # The older record is suggested to keep; the button compares the other one with it.
    assert merge_url(a, b).replace("&", "&amp;") in page
    assert "Compare and merge" in page


def test_duplicate_list_says_so_when_there_are_none(owner, login):
    make_customer(owner, "Alpha Trading")

    response = login(owner).get(reverse("customers:duplicates"))

    assert response.status_code == 200
    assert "No likely duplicates found" in response.content.decode()


def test_roles_that_cannot_edit_customers_get_403_on_duplicates(service_agent, login):
    assert login(service_agent).get(reverse("customers:duplicates")).status_code == 403


def test_duplicate_list_shows_25_groups_per_page(owner, login):
    for n in range(30):
        CustomerFactory.create_batch(2, owner=owner, phone=f"1380000{n:04d}")

    client = login(owner)
    first = client.get(reverse("customers:duplicates"))
    second = client.get(reverse("customers:duplicates"), {"page": 2})

    assert len(first.context["groups"]) == 25
    assert len(second.context["groups"]) == 5
    assert first.context["page_obj"].paginator.count == 30


def test_duplicate_list_runs_a_constant_number_of_queries(owner, login, django_assert_max_num_queries):
    for n in range(40):
        # Each pair shares a phone, an email and a name key, so every kind of match is exercised.
        CustomerFactory(owner=owner, name=f"Firma {n} Ltd", phone=f"1380000{n:04d}", email=f"x{n}@example.com")
        CustomerFactory(owner=owner, name=f"FIRMA {n}", phone=f"1380000{n:04d}", email=f"x{n}@example.com")
    client = login(owner)

    # 12 today (session, user, roles, 3 to find, 1 to load the page's customers, layout); a query
    # per row would add 50.
    with django_assert_max_num_queries(15):
        response = client.get(reverse("customers:duplicates"))

    assert len(response.context["groups"]) == 25


# Merging: the service


@pytest.fixture
def pair(owner):
    keep = make_customer(owner, "华强电子", phone="13800138000", notes="Met at the Canton fair.")
    merge = make_customer(
        owner,
        "深圳市华强电子有限公司",
        phone="+86 138 0013 8001",
        email="Info@HQ.cn",
        region="广东",
        city="深圳",
        address="华强北路 1 号",
        industry=Customer.Industry.RETAIL,
        birthday=datetime.date(1990, 5, 17),
        external_ref="ERP-42",
        notes="Prefers WeChat.",
    )
    return keep, merge


def test_merge_moves_contacts_interactions_tasks_tags_and_referrals(owner, pair):
    keep, merge = pair
    shared, only_merged, only_kept = TagFactory(name="vip"), TagFactory(name="wholesale"), TagFactory(name="east")
    keep.tags.set([shared, only_kept])
    merge.tags.set([shared, only_merged])
    ContactFactory(customer=keep, is_primary=True)
    contacts = ContactFactory.create_batch(2, customer=merge)
    interactions = InteractionFactory.create_batch(3, customer=merge)
    tasks = TaskFactory.create_batch(2, customer=merge)
    referred = CustomerFactory(owner=owner, referred_by=merge)

    record = customer_merge(keep=keep, merge=merge, actor=owner)

    assert set(keep.contacts.all()) >= set(contacts)
    assert set(keep.interactions.all()) == set(interactions)
    assert set(keep.tasks.all()) == set(tasks)
    assert set(keep.tags.values_list("name", flat=True)) == {"vip", "wholesale", "east"}
    referred.refresh_from_db()
    assert referred.referred_by == keep
    assert not Contact.objects.filter(customer=merge).exists()
    assert not Interaction.objects.filter(customer=merge).exists()
    assert not Task.objects.filter(customer=merge).exists()
    assert record.moved["contacts"] == 2
    assert record.moved["interactions"] == 3
    assert record.moved["tasks"] == 2
    assert record.moved["tags"] == 1
    assert record.moved["referrals"] == 1


def test_merge_archives_the_merged_customer_and_records_who_merged(owner, pair):
    keep, merge = pair
    versions = (keep.version, merge.version)

    record = customer_merge(keep=keep, merge=merge, actor=owner)

    keep.refresh_from_db()
    merge.refresh_from_db()
    assert merge.archived and merge.archived_at is not None
    assert merge.merged_into == keep
    assert not keep.archived
    assert (keep.version, merge.version) == (versions[0] + 1, versions[1] + 1)
    assert Customer.objects.filter(pk=merge.pk).exists(), "nothing is deleted"
    assert record == CustomerMerge.objects.get()
    assert (record.kept, record.merged, record.actor) == (keep, merge, owner)
    for customer in (keep, merge):
        latest = customer.history.first()
        assert (latest.history_user, latest.history_change_reason) == (owner, "merged")


def test_merge_fills_the_kept_customers_blank_fields_and_appends_notes(owner, pair):
    keep, merge = pair

    customer_merge(keep=keep, merge=merge, actor=owner)

    keep.refresh_from_db()
    assert keep.phone == "13800138000", "a value the kept record has is not overwritten"
    assert keep.email == "info@hq.cn"
    assert (keep.region, keep.city, keep.address) == ("广东", "深圳", "华强北路 1 号")
    assert keep.industry == Customer.Industry.RETAIL
    assert keep.birthday == datetime.date(1990, 5, 17)
    assert keep.notes == "Met at the Canton fair.\n\nPrefers WeChat."


def test_merge_takes_the_external_ref_when_the_kept_customer_has_none(owner, pair):
    keep, merge = pair

    customer_merge(keep=keep, merge=merge, actor=owner)

    keep.refresh_from_db()
    merge.refresh_from_db()
    assert keep.external_ref == "ERP-42"
    assert merge.external_ref is None


def test_merge_keeps_the_kept_customers_own_external_ref(owner, pair):
    keep, merge = pair
    services.customer_update(customer=keep, actor=owner, data={"external_ref": "ERP-7"}, expected_version=keep.version)

    customer_merge(keep=keep, merge=merge, actor=owner)

    keep.refresh_from_db()
    merge.refresh_from_db()
    assert keep.external_ref == "ERP-7"
    assert merge.external_ref == "ERP-42"


def test_merge_keeps_one_primary_contact(owner, pair):
    keep, merge = pair
    kept_primary = ContactFactory(customer=keep, is_primary=True)
    ContactFactory(customer=merge, is_primary=True)

    customer_merge(keep=keep, merge=merge, actor=owner)

    assert list(keep.contacts.filter(is_primary=True)) == [kept_primary]
    assert keep.contacts.count() == 2


def test_a_customer_referred_by_its_duplicate_takes_over_that_referrer(owner):
    referrer = make_customer(owner, "Referrer")
    merge = make_customer(owner, "Acme", referred_by=referrer)
    keep = make_customer(owner, "Acme Ltd", referred_by=merge)

    customer_merge(keep=keep, merge=merge, actor=owner)

    keep.refresh_from_db()
    assert keep.referred_by == referrer


def test_an_archived_customer_cannot_be_merged(owner, pair):
    keep, merge = pair
    services.customer_archive(customer=merge, actor=owner)

    with pytest.raises(MergeError):
        customer_merge(keep=keep, merge=merge, actor=owner)
    assert not CustomerMerge.objects.exists()


def test_a_customer_cannot_be_merged_into_itself(owner, pair):
    keep, _merge = pair

    with pytest.raises(MergeError):
        customer_merge(keep=keep, merge=keep, actor=owner)


# Merging: the page


def test_merge_page_compares_the_two_customers_field_by_field(owner, pair, login):
    keep, merge = pair

    response = login(owner).get(merge_url(keep, merge))

    assert response.status_code == 200
    rows = {row["name"]: row for row in response.context["rows"]}
    assert rows["name"]["differs"] and rows["phone"]["differs"]
    assert not rows["owner"]["differs"]
    assert rows["email"]["filled"] and rows["region"]["filled"] and rows["external_ref"]["filled"]
    assert not rows["phone"]["filled"]
    assert rows["notes"]["appended"]
    page = response.content.decode()
    assert "table-warning" in page
    assert "Will be filled in with “info@hq.cn”" in page
    # The swap link keeps the other record instead.
    assert merge_url(merge, keep).replace("&", "&amp;") in page


def test_merge_post_merges_and_redirects_to_the_kept_customer(owner, pair, login):
    keep, merge = pair
    ContactFactory(customer=merge)
    client = login(owner)

    response = client.post(
        reverse("customers:merge"),
        {"keep": keep.pk, "merge": merge.pk, "keep_version": keep.version, "merge_version": merge.version},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == keep.get_absolute_url()
    page = response.content.decode()
    assert "was merged into" in page
    assert "Merged" in page, "the 360 page's history shows the merge"
    merge.refresh_from_db()
    assert merge.merged_into == keep
    assert CustomerMerge.objects.get().actor == owner
    assert keep.contacts.count() == 1


def test_submitting_the_merge_twice_merges_once(owner, pair, login):
    keep, merge = pair
    client = login(owner)
    data = {"keep": keep.pk, "merge": merge.pk, "keep_version": keep.version, "merge_version": merge.version}

    client.post(reverse("customers:merge"), data)
    response = client.post(reverse("customers:merge"), data, follow=True)

    assert response.redirect_chain[-1][0] == keep.get_absolute_url()
    assert "is already merged into this customer" in response.content.decode()
    assert CustomerMerge.objects.count() == 1


def test_merge_post_after_someone_else_edited_asks_to_check_again(owner, pair, login):
    keep, merge = pair
    stale_version = merge.version
    services.customer_update(customer=merge, actor=owner, data={"city": "广州"}, expected_version=merge.version)

    response = login(owner).post(
        reverse("customers:merge"),
        {"keep": keep.pk, "merge": merge.pk, "keep_version": keep.version, "merge_version": stale_version},
    )

    assert response.status_code == 409
    assert "was changed after you opened this page" in response.content.decode()
    merge.refresh_from_db()
    assert not merge.archived


def test_merge_post_without_csrf_token_is_refused(owner, pair):
    keep, merge = pair
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")

    response = client.post(
        reverse("customers:merge"),
        {"keep": keep.pk, "merge": merge.pk, "keep_version": keep.version, "merge_version": merge.version},
    )

    assert response.status_code == 403
    merge.refresh_from_db()
    assert not merge.archived


def test_outsider_gets_404_on_the_merge_page(owner, outsider, pair, login):
    keep, _merge = pair
    theirs = make_customer(outsider, "华强电子", phone="13800138000")
    client = login(outsider)

    assert client.get(merge_url(theirs, keep)).status_code == 404
    assert client.get(merge_url(keep, theirs)).status_code == 404


def test_outsider_merge_post_changes_nothing(owner, outsider, pair, login):
    keep, merge = pair
    ContactFactory(customer=merge)
    theirs = make_customer(outsider, "华强电子")

    client = login(outsider)
    for keep_pk, merge_pk in ((keep.pk, merge.pk), (theirs.pk, merge.pk)):
        response = client.post(
            reverse("customers:merge"), {"keep": keep_pk, "merge": merge_pk, "keep_version": 1, "merge_version": 1}
        )
        assert response.status_code == 404

    merge.refresh_from_db()
    assert not merge.archived and merge.merged_into is None
    assert merge.contacts.count() == 1
    assert not CustomerMerge.objects.exists()


def test_teammate_gets_404_on_a_colleagues_customers(owner, teammate, pair, login):
    keep, merge = pair

    assert login(teammate).get(merge_url(keep, merge)).status_code == 404


def test_merge_page_refuses_an_archived_customer(owner, pair, login):
    keep, merge = pair
    services.customer_archive(customer=merge, actor=owner)

    response = login(owner).get(merge_url(keep, merge), follow=True)

    assert response.redirect_chain[-1][0] == reverse("customers:duplicates")
    assert "Only active customers can be merged" in response.content.decode()


def test_merge_page_with_a_bad_id_is_404(owner, pair, login):
    keep, _merge = pair

    assert login(owner).get(f"{reverse('customers:merge')}?keep={keep.pk}&merge=abc").status_code == 404
