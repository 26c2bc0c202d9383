"""Factories of the sales app (the customers' ones are in tests/factories.py)."""

import datetime
import importlib
from decimal import Decimal

import factory

from sales.models import Lead, Opportunity, Order, OrderLine, Pipeline, Product, Stage
from tests.factories import CustomerFactory, UserFactory


def ensure_default_pipeline() -> Pipeline:
    """The default pipeline the data migration creates; made again when a transactional test flushed it."""
    from django.apps import apps

    migration = importlib.import_module("sales.migrations.0002_default_pipeline")
    migration.create_default_pipeline(apps, None)
    return Pipeline.objects.get(is_default=True)


def default_stage(name: str) -> Stage:
    """A stage of the default pipeline that the migration creates (Prospecting … Won, Lost)."""
    return ensure_default_pipeline().stages.get(name=name)


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    name = factory.Sequence(lambda n: f"Lead person {n}")
    company = factory.Sequence(lambda n: f"Prospect Co {n}")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    email = factory.Sequence(lambda n: f"lead{n}@example.com")
    source = "website"
    owner = factory.SubFactory(UserFactory, roles=["sales rep"])


class PipelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pipeline

    name = factory.Sequence(lambda n: f"Pipeline {n}")


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Opportunity

    name = factory.Sequence(lambda n: f"Deal {n}")
    customer = factory.SubFactory(CustomerFactory)
    owner = factory.LazyAttribute(lambda o: o.customer.owner)
    stage = factory.LazyFunction(lambda: default_stage("Prospecting"))
    pipeline = factory.LazyAttribute(lambda o: o.stage.pipeline)
    probability = factory.LazyAttribute(lambda o: o.stage.probability)
    amount = Decimal("10000.00")
    expected_close = factory.LazyFunction(lambda: datetime.date.today() + datetime.timedelta(days=30))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = "Hardware"
    unit_price = Decimal("100.00")
    unit_cost = Decimal("60.00")


class OrderFactory(factory.django.DjangoModelFactory):
    """An order with no lines; add lines with OrderLineFactory (its amount and cost follow them)."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"SO-TEST-{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    owner = factory.LazyAttribute(lambda o: o.customer.owner)
    status = Order.Status.CONFIRMED
    ordered_at = factory.LazyFunction(datetime.date.today)


class OrderLineFactory(factory.django.DjangoModelFactory):
    """A line whose amount and cost are quantity × unit price / cost; the order's totals are updated."""

    class Meta:
        model = OrderLine
        skip_postgeneration_save = True

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = Decimal("1")
    unit_price = factory.LazyAttribute(lambda o: o.product.unit_price)
    unit_cost = factory.LazyAttribute(lambda o: o.product.unit_cost)
    amount = factory.LazyAttribute(lambda o: o.quantity * o.unit_price)
    cost = factory.LazyAttribute(lambda o: o.quantity * o.unit_cost)

    @factory.post_generation
    def update_order_totals(self, create, extracted, **kwargs):
        if create:
            from sales.services.orders import order_recalculate

            order_recalculate(self.order)
