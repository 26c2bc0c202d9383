"""Products: who may read and change the catalogue, its writes, and a product's sales figures."""

from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Sum

from customers import roles

from ..models import Order, Product

# The catalogue is read by everyone who sells or oversees selling; only admins and sales managers change it.
READ_ROLES = (roles.ADMIN, roles.MANAGER, roles.SALES_MANAGER, roles.SALES_REP)
EDIT_ROLES = (roles.ADMIN, roles.SALES_MANAGER)
PRODUCT_FIELDS = ("sku", "name", "category", "unit_price", "unit_cost", "active")


def can_read_products(user) -> bool:
    return roles.has_role(user, *READ_ROLES)


def can_edit_products(user) -> bool:
    return roles.has_role(user, *EDIT_ROLES)


@transaction.atomic
def product_save(*, product: Product, actor, data: dict) -> Product:
    """Create or update a product from form-cleaned data (SKU trimmed; uniqueness is the form's and the database's)."""
    for field in PRODUCT_FIELDS:
        if field in data:
            value = data[field]
            setattr(product, field, value.strip() if isinstance(value, str) else value)
    product.save()
    return product


def product_sales(*, product: Product, orders) -> dict:
    """Quantity, revenue, cost, gross profit, margin and order count of `product` over `orders`
    (a queryset already scoped to what the reader may see), cancelled orders left out."""
    # One join from the (scoped) orders to this product's lines; the aggregate reuses the filter's join,
    # so it sums only this product's lines and the reader's visibility stays a plain WHERE on orders.
    totals = (
        orders.exclude(status=Order.Status.CANCELLED)
        .filter(lines__product=product)
        .aggregate(
            quantity=Sum("lines__quantity"),
            amount=Sum("lines__amount"),
            cost=Sum("lines__cost"),
            orders=Count("pk", distinct=True),
            last_sold=Max("ordered_at"),
        )
    )
    amount = totals["amount"] or Decimal(0)
    cost = totals["cost"] or Decimal(0)
    return {
        "quantity": totals["quantity"] or Decimal(0),
        "amount": amount,
        "cost": cost,
        "gross_profit": amount - cost,
        "margin": (amount - cost) / amount * 100 if amount else None,
        "orders": totals["orders"],
        "last_sold": totals["last_sold"],
    }
