"""The customer pool page: who sees it, claim, assign, release (DESIGN.md "Customer pool")."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.urls import reverse
from django.utils import timezone

from customers import roles
from customers.models import Customer
from sales.models import Order, PoolMove, PoolRule
from sales.services import pool as pool_services
from tests.factories import CustomerFactory, UserFactory
from tests.sales.factories import OrderFactory

pytestmark = pytest.mark.django_db

POOL = reverse("sales:pool")


def pool_customer(name="Pool Co", **fields):
    return CustomerFactory(name=name, owner=None, **fields)


def claim_url(customer):
    return reverse("sales:pool_claim", args=[customer.pk])


def release_url(customer):
    return reverse("sales:pool_release", args=[customer.pk])


def detail_url(customer):
    return reverse("sales:pool_detail", args=[customer.pk])


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- the list -------------------------------------------------------------------------------


def test_rep_sees_pool_customers_with_when_why_and_previous_owner(login, owner, teammate):
    customer = pool_customer("Idle Trading", region="浙江", industry=Customer.Industry.LOGISTICS, tier="key")
    PoolMove.objects.create(
        customer=customer, action=PoolMove.Action.RECYCLED, from_owner=teammate, reason="No interaction for 120 days"
    )
    OrderFactory(customer=customer, owner=None, ordered_at=datetime.date(2026, 3, 1), amount=Decimal("1200.50"))
    OrderFactory(customer=customer, owner=None, ordered_at=datetime.date(2026, 4, 2), amount=Decimal("800.00"))
    OrderFactory(
        customer=customer,
        owner=None,
        ordered_at=datetime.date(2026, 5, 1),
        amount=Decimal("999.00"),
        status=Order.Status.CANCELLED,
    )
    CustomerFactory(name="Owned Co", owner=teammate)
    CustomerFactory(name="Archived Pool Co", owner=None, archived=True)

    response = login(owner).get(POOL)

    assert response.status_code == 200
    rows = response.context["customers"]
    assert [c.name for c in rows] == ["Idle Trading"]
    row = rows[0]
    assert row.total_spend == Decimal("2000.50")
    assert row.last_order == datetime.date(2026, 4, 2)
    assert row.previous_owner == teammate
    content = response.content.decode()
    assert "No interaction for 120 days" in content
    assert "2,000.50" in content
    assert "2026-04-02" in content


@pytest.mark.parametrize("persona", ["manager", "service_agent", "marketer"])
def test_other_roles_get_404_on_the_pool(login, persona, request):
    customer = pool_customer()
    client = login(request.getfixturevalue(persona))
    assert client.get(POOL).status_code == 404
    assert client.get(detail_url(customer)).status_code == 404


def test_pool_filters_search_and_sort(login, owner):
    now = timezone.now()
    old = pool_customer("Alpha Old", region="广东", tier="vip", industry=Customer.Industry.RETAIL)
    PoolMove.objects.create(customer=old, action=PoolMove.Action.RELEASED, moved_at=now - datetime.timedelta(days=100))
    recent = pool_customer("Beta Recent", region="浙江", tier="small", industry=Customer.Industry.ENERGY)
    PoolMove.objects.create(customer=recent, action=PoolMove.Action.RELEASED, moved_at=now - datetime.timedelta(days=2))
    # Never owned: in the pool since it was created.
    pool_customer("Gamma Ancient", region="广东", created_at=now - datetime.timedelta(days=200))
    pool_customer("Delta Month", region="广东", created_at=now - datetime.timedelta(days=10))
    client = login(owner)

    def names(**params):
        return [c.name for c in client.get(POOL, params).context["customers"]]

    assert names() == ["Alpha Old", "Beta Recent", "Delta Month", "Gamma Ancient"]
    assert names(sort="since") == ["Gamma Ancient", "Alpha Old", "Delta Month", "Beta Recent"]
    assert names(sort="-since") == ["Beta Recent", "Delta Month", "Alpha Old", "Gamma Ancient"]
    assert names(region="浙江") == ["Beta Recent"]
    assert names(tier="vip") == ["Alpha Old"]
    assert names(industry=Customer.Industry.ENERGY) == ["Beta Recent"]
    assert names(in_pool="week") == ["Beta Recent"]
    assert names(in_pool="month") == ["Delta Month"]
    assert names(in_pool="quarter") == []
    assert names(in_pool="older") == ["Alpha Old", "Gamma Ancient"]
    assert names(q="Alpha") == ["Alpha Old"]


def test_pool_page_runs_a_constant_number_of_queries(login, owner, team_manager, django_assert_max_num_queries):
    previous = UserFactory(roles=[roles.SALES_REP])
    for i in range(30):
        customer = pool_customer(f"Pool {i:02d}", region=f"R{i % 5}")
        PoolMove.objects.create(customer=customer, action=PoolMove.Action.RECYCLED, from_owner=previous, reason="idle")
        OrderFactory(customer=customer, owner=None, amount=Decimal("10"))
    for user in (owner, team_manager):
        client = login(user)
        with django_assert_max_num_queries(18):
            response = client.get(POOL, {"per_page": 25})
        assert len(response.context["customers"]) == 25
        assert "Previously" in response.content.decode()


def test_pool_detail_shows_basic_data_and_history(login, owner, teammate):
    customer = pool_customer("History Co", region="江苏")
    PoolMove.objects.create(
        customer=customer, action=PoolMove.Action.RELEASED, from_owner=teammate, reason="Moved away"
    )
    response = login(owner).get(detail_url(customer))
    assert response.status_code == 200
    content = response.content.decode()
    assert "History Co" in content and "江苏" in content and "Moved away" in content
    assert "Claim" in content


def test_outsider_gets_404_on_pool_detail_of_an_owned_customer(login, owner, outsider):
    customer = CustomerFactory(owner=owner)
    assert login(outsider).get(detail_url(customer)).status_code == 404


# --- claim ----------------------------------------------------------------------------------


def test_rep_claims_a_pool_customer(login, owner):
    customer = pool_customer()
    version = customer.version
    response = login(owner).post(claim_url(customer))
    customer.refresh_from_db()
    assert customer.owner == owner
    assert customer.version == version + 1
    assert response.url == reverse("customers:detail", args=[customer.pk])
    move = PoolMove.objects.get(customer=customer)
    assert (move.action, move.to_owner, move.actor) == (PoolMove.Action.CLAIMED, owner, owner)
    assert customer.history.first().history_change_reason == pool_services.REASON_CLAIMED
    assert customer.history.first().history_user == owner


def test_claiming_past_the_limit_is_refused_with_a_clear_message(login, owner):
    PoolRule.objects.create(pk=1, claim_limit=2)
    CustomerFactory.create_batch(2, owner=owner)
    customer = pool_customer()
    response = login(owner).post(claim_url(customer), follow=True)
    customer.refresh_from_db()
    assert customer.owner is None
    assert any("limit for claiming is 2" in m for m in messages_of(response))
    assert not PoolMove.objects.exists()


def test_claiming_a_customer_someone_just_claimed_says_so(login, owner, teammate):
    customer = pool_customer()
    PoolMove.objects.create(customer=customer, action=PoolMove.Action.RECYCLED)
    pool_services.pool_claim(customer_id=customer.pk, actor=teammate)
    response = login(owner).post(claim_url(customer), follow=True)
    customer.refresh_from_db()
    assert customer.owner == teammate
    assert any("Someone else claimed this customer" in m for m in messages_of(response))


def test_outsider_gets_404_claiming_an_owned_customer(login, owner, outsider):
    customer = CustomerFactory(owner=owner)
    assert login(outsider).post(claim_url(customer)).status_code == 404
    customer.refresh_from_db()
    assert customer.owner == owner


@pytest.mark.parametrize("persona", ["manager", "service_agent", "marketer"])
def test_other_roles_get_404_claiming(login, persona, request):
    customer = pool_customer()
    assert login(request.getfixturevalue(persona)).post(claim_url(customer)).status_code == 404
    customer.refresh_from_db()
    assert customer.owner is None


@pytest.mark.django_db(transaction=True)
def test_two_reps_claiming_at_once_exactly_one_wins():
    if connection.vendor != "postgresql":
        pytest.skip("needs row locks of a real database server (PostgreSQL)")
    reps = [UserFactory(username=f"racer{i}", roles=[roles.SALES_REP]) for i in range(2)]
    customer = pool_customer()
    barrier = threading.Barrier(2)
    outcomes = []

    def claim(rep):
        try:
            barrier.wait()
            pool_services.pool_claim(customer_id=customer.pk, actor=rep)
            outcomes.append("won")
        except pool_services.PoolError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(rep,)) for rep in reps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "won"]
    customer.refresh_from_db()
    assert customer.owner in reps
    assert PoolMove.objects.filter(customer=customer, action=PoolMove.Action.CLAIMED).count() == 1


# --- assign ---------------------------------------------------------------------------------


def test_sales_manager_bulk_assigns_pool_customers_to_a_team_rep(login, team_manager, owner):
    first, second = pool_customer("First"), pool_customer("Second")
    response = login(team_manager).post(
        reverse("sales:pool_assign"), {"customers": [first.pk, second.pk], "rep": owner.pk, "reason": "Territory"}
    )
    assert response.status_code == 302
    for customer in (first, second):
        customer.refresh_from_db()
        assert customer.owner == owner
    moves = PoolMove.objects.filter(action=PoolMove.Action.ASSIGNED)
    assert {(m.customer_id, m.to_owner_id, m.actor_id, m.reason) for m in moves} == {
        (first.pk, owner.pk, team_manager.pk, "Territory"),
        (second.pk, owner.pk, team_manager.pk, "Territory"),
    }


def test_sales_manager_cannot_assign_to_a_rep_outside_their_teams(login, team_manager, outsider):
    customer = pool_customer()
    login(team_manager).post(reverse("sales:pool_assign"), {"customers": [customer.pk], "rep": outsider.pk})
    customer.refresh_from_db()
    assert customer.owner is None


def test_admin_assigns_to_anyone_in_sales(login, admin_user, outsider):
    customer = pool_customer()
    login(admin_user).post(reverse("sales:pool_assign"), {"customers": [customer.pk], "rep": outsider.pk})
    customer.refresh_from_db()
    assert customer.owner == outsider


def test_assign_never_takes_an_owned_customer(login, team_manager, owner, teammate):
    owned = CustomerFactory(owner=teammate)
    response = login(team_manager).post(reverse("sales:pool_assign"), {"customers": [owned.pk], "rep": owner.pk})
    assert response.status_code == 404
    owned.refresh_from_db()
    assert owned.owner == teammate


@pytest.mark.parametrize("persona", ["outsider", "owner", "manager", "service_agent"])
def test_non_managers_get_404_assigning(login, persona, request, owner):
    customer = pool_customer()
    response = login(request.getfixturevalue(persona)).post(
        reverse("sales:pool_assign"), {"customers": [customer.pk], "rep": owner.pk}
    )
    assert response.status_code == 404
    customer.refresh_from_db()
    assert customer.owner is None


# --- release --------------------------------------------------------------------------------


def test_owner_releases_a_customer_with_a_reason(login, owner):
    customer = CustomerFactory(owner=owner)
    client = login(owner)
    assert client.get(release_url(customer)).status_code == 200
    response = client.post(release_url(customer), {"reason": "Moved to another province"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.owner is None
    move = PoolMove.objects.get(customer=customer)
    assert (move.action, move.from_owner, move.actor, move.reason) == (
        PoolMove.Action.RELEASED,
        owner,
        owner,
        "Moved to another province",
    )
    # The released customer is in the pool and its history is on its pool page.
    assert customer.name in client.get(POOL).content.decode()
    assert "Moved to another province" in client.get(detail_url(customer)).content.decode()


def test_release_needs_a_reason(login, owner):
    customer = CustomerFactory(owner=owner)
    response = login(owner).post(release_url(customer), {"reason": "  "})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.owner == owner


def test_sales_manager_releases_a_team_members_customer(login, team_manager, owner):
    customer = CustomerFactory(owner=owner)
    login(team_manager).post(release_url(customer), {"reason": "Rebalancing"})
    customer.refresh_from_db()
    assert customer.owner is None


@pytest.mark.parametrize("persona", ["outsider", "manager", "service_agent", "marketer"])
def test_others_get_404_releasing(login, persona, request, owner):
    customer = CustomerFactory(owner=owner)
    client = login(request.getfixturevalue(persona))
    assert client.get(release_url(customer)).status_code == 404
    assert client.post(release_url(customer), {"reason": "mine now"}).status_code == 404
    customer.refresh_from_db()
    assert customer.owner == owner
