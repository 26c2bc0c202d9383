"""The daily recycling rule of the customer pool (DESIGN.md "Customer pool")."""

import datetime

import pytest
from django.utils import timezone

from customers.models import Customer, JobRun, Task
from sales.models import Order, PoolMove, PoolRule
from sales.services.pool import REASON_RECYCLED, pool_recycle
from sales.tasks import recycle_customer_pool
from tests.factories import CustomerFactory, InteractionFactory, UserFactory
from tests.sales.factories import OrderFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 30)
DAYS = {"vip": 180, "key": 120, "ordinary": 90, "small": 60, "": 30}


@pytest.fixture(autouse=True)
def pool_rule():
    return PoolRule.objects.create(
        pk=1, days_vip=180, days_key=120, days_ordinary=90, days_small=60, days_ungraded=30, claim_limit=50
    )


def at(day: datetime.date, hour=12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def days_ago(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


def old_customer(owner, tier=""):
    """A customer created long before any tier's days, owned by `owner`."""
    return CustomerFactory(owner=owner, tier=tier, created_at=at(days_ago(1000)))


def recycled_ids():
    return set(Customer.objects.filter(owner__isnull=True).values_list("pk", flat=True))


@pytest.mark.parametrize("tier", list(DAYS))
def test_interaction_exactly_the_tiers_days_ago_recycles_one_day_later_keeps(owner, tier):
    days = DAYS[tier]
    due = old_customer(owner, tier)
    InteractionFactory(customer=due, actor=owner, occurred_at=at(days_ago(days), hour=23))
    kept = old_customer(owner, tier)
    InteractionFactory(customer=kept, actor=owner, occurred_at=at(days_ago(days - 1), hour=0))

    counts = pool_recycle(today=TODAY)

    assert recycled_ids() == {due.pk}
    assert counts == {"recycled": 1, "tasks": 1}


def test_zero_days_turns_recycling_off_for_that_tier(owner, pool_rule):
    pool_rule.days_small = 0
    pool_rule.save()
    idle = old_customer(owner, "small")
    pool_recycle(today=TODAY)
    idle.refresh_from_db()
    assert idle.owner == owner


def test_inactive_rule_recycles_nothing(owner, pool_rule):
    pool_rule.active = False
    pool_rule.save()
    old_customer(owner)
    assert pool_recycle(today=TODAY) == {"recycled": 0, "tasks": 0}
    assert recycled_ids() == set()


def test_activity_by_someone_else_does_not_keep_the_customer(owner, teammate):
    customer = old_customer(owner, "small")
    InteractionFactory(customer=customer, actor=teammate, occurred_at=at(days_ago(1)))
    OrderFactory(customer=customer, owner=teammate, ordered_at=days_ago(1))
    pool_recycle(today=TODAY)
    assert recycled_ids() == {customer.pk}


def test_a_closed_order_of_the_owner_keeps_the_customer_by_order_date(owner):
    confirmed = old_customer(owner, "small")
    OrderFactory(customer=confirmed, owner=owner, ordered_at=days_ago(59), status=Order.Status.CONFIRMED)
    delivered = old_customer(owner, "small")
    OrderFactory(customer=delivered, owner=owner, ordered_at=days_ago(59), status=Order.Status.DELIVERED)
    too_old = old_customer(owner, "small")
    OrderFactory(customer=too_old, owner=owner, ordered_at=days_ago(60), status=Order.Status.DELIVERED)
    draft = old_customer(owner, "small")
    OrderFactory(customer=draft, owner=owner, ordered_at=days_ago(1), status=Order.Status.DRAFT)
    cancelled = old_customer(owner, "small")
    OrderFactory(customer=cancelled, owner=owner, ordered_at=days_ago(1), status=Order.Status.CANCELLED)

    pool_recycle(today=TODAY)

    assert recycled_ids() == {too_old.pk, draft.pk, cancelled.pk}


def test_days_count_from_when_the_owner_got_the_customer(owner, teammate):
    created_recently = CustomerFactory(owner=owner, tier="small", created_at=at(days_ago(59)))
    created_long_ago = CustomerFactory(owner=owner, tier="small", created_at=at(days_ago(60)))
    claimed_recently = old_customer(owner, "small")
    PoolMove.objects.create(
        customer=claimed_recently, action=PoolMove.Action.CLAIMED, to_owner=owner, moved_at=at(days_ago(59))
    )
    # A move to someone else says nothing about the current owner.
    moved_to_other = old_customer(owner, "small")
    PoolMove.objects.create(
        customer=moved_to_other, action=PoolMove.Action.ASSIGNED, to_owner=teammate, moved_at=at(days_ago(1))
    )

    pool_recycle(today=TODAY)

    assert recycled_ids() == {created_long_ago.pk, moved_to_other.pk}
    assert created_recently.pk not in recycled_ids()


def test_archived_and_unowned_customers_are_left_alone(owner):
    archived = CustomerFactory(owner=owner, archived=True, created_at=at(days_ago(1000)))
    CustomerFactory(owner=None, created_at=at(days_ago(1000)))
    pool_recycle(today=TODAY)
    archived.refresh_from_db()
    assert archived.owner == owner
    assert PoolMove.objects.count() == 0


def test_recycling_records_the_move_tells_the_old_owner_and_bumps_the_version(owner):
    customer = old_customer(owner, "key")
    version = customer.version

    pool_recycle(today=TODAY)

    customer.refresh_from_db()
    assert customer.owner is None
    assert customer.version == version + 1
    move = PoolMove.objects.get(customer=customer)
    assert move.action == PoolMove.Action.RECYCLED
    assert move.from_owner == owner
    assert "120 days" in move.reason
    task = Task.objects.get(customer=customer)
    assert task.owner == owner
    assert task.source == "pool"
    assert task.due_date == TODAY
    assert customer.name in task.title
    assert "120 days" in task.notes
    assert customer.history.first().history_change_reason == REASON_RECYCLED
    assert customer.history.first().owner_id is None


def test_a_second_run_the_same_day_does_nothing(owner):
    old_customer(owner)
    CustomerFactory(owner=owner, tier="vip", created_at=at(days_ago(100)))
    first = pool_recycle(today=TODAY)
    second = pool_recycle(today=TODAY)
    assert first["recycled"] == 1
    assert second == {"recycled": 0, "tasks": 0}
    assert PoolMove.objects.count() == 1
    assert Task.objects.count() == 1


def test_recycling_runs_a_constant_number_of_queries(owner, django_assert_max_num_queries):
    other = UserFactory(roles=["sales rep"])
    for i in range(30):
        old_customer(owner if i % 2 else other, ["", "small", "key"][i % 3])
    with django_assert_max_num_queries(25):
        counts = pool_recycle(today=TODAY)
    assert counts == {"recycled": 30, "tasks": 30}


def test_the_task_records_a_job_run(owner):
    old_customer(owner)
    counts = recycle_customer_pool.delay(TODAY.isoformat()).get()
    assert counts == {"recycled": 1, "tasks": 1}
    run = JobRun.objects.get(job="recycle_customer_pool")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.as_of == TODAY
    assert run.counts == {"recycled": 1, "tasks": 1}
